#!/usr/bin/env python3
"""A minimal DICOM C-STORE SCU speaking the wire protocol by hand, to send what no DCMTK tool
will: a data set cut short. storescu parses its input first and refuses a truncated file.

usage: send_raw.py HOST PORT CALLING CALLED FILE KEEP_BYTES [STALL_SECONDS]
Sends the data set of FILE (Part-10, explicit VR little endian) cut to KEEP_BYTES bytes, prints
the C-STORE-RSP status as 0xNNNN, exits 0 when a response arrived. With STALL_SECONDS it plays a
slow modality: "associated" is printed once the association is up, and the last fragment of the
data set is sent only after that long. SEND_RAW_SYNTAX=<UID> in the environment proposes that
transfer syntax instead of explicit VR little endian (one DCMTK does not know, such as HTJ2K);
"context refused" is printed and it exits 1 when the peer does not accept it."""
import socket, struct, sys, time

host, port, calling, called, path, keep = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
stall = float(sys.argv[7]) if len(sys.argv) > 7 else 0
data = open(path, 'rb').read()
assert data[128:132] == b'DICM'
meta_len = struct.unpack('<I', data[140:144])[0]
dataset = data[144 + meta_len:][:keep]

def uid(u): b = u.encode(); return b + (b'\0' if len(b) % 2 else b'')
def item(t, body): return struct.pack('>BBH', t, 0, len(body)) + body
def elem(g, e, v): return struct.pack('<HHI', g, e, len(v)) + v

def find_meta(tag_elem):  # a UI value of the meta group, e.g. (0002,0002)
    off = 144
    while off < 144 + meta_len:
        g, e = struct.unpack('<HH', data[off:off + 4]); vr = data[off + 4:off + 6]
        if vr in (b'OB', b'OW', b'UN', b'SQ', b'UT'):
            ln = struct.unpack('<I', data[off + 8:off + 12])[0]; val = data[off + 12:off + 12 + ln]; off += 12 + ln
        else:
            ln = struct.unpack('<H', data[off + 6:off + 8])[0]; val = data[off + 8:off + 8 + ln]; off += 8 + ln
        if e == tag_elem: return val.rstrip(b'\0 ').decode()
sop_class, sop_inst = find_meta(0x0002), find_meta(0x0003)

import os
syntax = os.environ.get('SEND_RAW_SYNTAX', '1.2.840.10008.1.2.1')
pc = struct.pack('>BBBB', 1, 0, 0, 0) + item(0x30, sop_class.encode()) + item(0x40, syntax.encode())
user = item(0x51, struct.pack('>I', 16384)) + item(0x52, b'1.2.826.0.1.3680043.9.7433.1')
body = struct.pack('>HH', 1, 0) + called.ljust(16).encode() + calling.ljust(16).encode() + bytes(32) + \
    item(0x10, b'1.2.840.10008.3.1.1.1') + item(0x20, pc) + item(0x50, user)
s = socket.create_connection((host, port), timeout=10)
s.sendall(struct.pack('>BBI', 1, 0, len(body)) + body)

def read_pdu():
    hdr = b''
    while len(hdr) < 6: hdr += s.recv(6 - len(hdr))
    t, _, ln = struct.unpack('>BBI', hdr); b = b''
    while len(b) < ln: b += s.recv(ln - len(b))
    return t, b

t, ac = read_pdu()
if t != 2: print('association not accepted (PDU type %d)' % t); sys.exit(1)
off = 68  # the A-ASSOCIATE-AC's items: is our presentation context (0x21) accepted?
while off + 4 <= len(ac):
    it, ln = ac[off], struct.unpack('>H', ac[off + 2:off + 4])[0]
    if it == 0x21 and ac[off + 6] != 0:
        print('context refused'); s.sendall(struct.pack('>BBI', 5, 0, 4) + bytes(4)); sys.exit(1)
    off += 4 + ln
if stall: print('associated', flush=True)
cmd = elem(0, 2, uid(sop_class)) + elem(0, 0x100, struct.pack('<H', 1)) + elem(0, 0x110, struct.pack('<H', 1)) + \
    elem(0, 0x700, struct.pack('<H', 0)) + elem(0, 0x800, struct.pack('<H', 0)) + elem(0, 0x1000, uid(sop_inst))
cmd = elem(0, 0, struct.pack('<I', len(cmd))) + cmd
def pdata(ctrl, payload):
    pdv = struct.pack('>IBB', len(payload) + 2, 1, ctrl) + payload
    return struct.pack('>BBI', 4, 0, len(pdv)) + pdv
# The SCP accepts PDUs of at most 16 KiB: send the data set in fragments, the last one flagged.
chunks = [dataset[i:i + 16000] for i in range(0, len(dataset), 16000)] or [b'']
fragments = [pdata(0x02 if i == len(chunks) - 1 else 0x00, c) for i, c in enumerate(chunks)]
s.sendall(pdata(0x03, cmd) + b''.join(fragments[:-1]))
time.sleep(stall)
s.sendall(fragments[-1])
t, b = read_pdu()
if t != 4: print('no response (PDU type %d)' % t); sys.exit(1)
rsp = b[6:]; off = 0; status = None
while off < len(rsp):
    g, e, ln = struct.unpack('<HHI', rsp[off:off + 8])
    if (g, e) == (0, 0x900): status = struct.unpack('<H', rsp[off + 8:off + 10])[0]
    off += 8 + ln
print('0x%04X' % status)
s.sendall(struct.pack('>BBI', 5, 0, 4) + bytes(4))
try: read_pdu()
except Exception: pass
