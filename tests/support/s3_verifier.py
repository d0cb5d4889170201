#!/usr/bin/env python3
"""A loopback S3 stand-in that really checks AWS SigV4 (s3rver does not), for the s3 destination tests.

s3_verifier.py --root DIR --port-file F --access-key ID --secret S --region R --bucket B
               [--cert C --key K] [--log FILE] [--fail-part N] [--drop-part N]
               [--truncate-put SUFFIX]

Binds 127.0.0.1 on a free port (written to --port-file once listening), HTTPS when --cert/--key
are given. Every request's signature is recomputed with botocore (python3-botocore) over exactly the
headers the client says it signed, and x-amz-content-sha256 is checked against the body. Objects
are stored as files under DIR/<bucket>/<key>. Supports PUT/HEAD/GET object and multipart (create,
upload part, list parts, complete, abort), path style and virtual-host style (<bucket>.localhost).
Fault injection: --fail-part N answers 500 to the Nth UploadPart request; --drop-part N acknowledges
the Nth UploadPart request but does not keep it; --truncate-put SUFFIX acknowledges the first
single PUT of a key ending in SUFFIX but keeps only half its body. --log gets one line per request:
"METHOD PATH?QUERY STATUS".
"""
import argparse, hashlib, hmac, os, re, shutil, ssl, threading, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qsl, unquote
from xml.sax.saxutils import escape
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

A = None
LOCK = threading.Lock()
PART_REQUESTS = [0]
TRUNCATED = [False]
AUTH_RE = re.compile(r'AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?'
                     r'SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$')


class OnlySigned(S3SigV4Auth):
    """botocore's S3 SigV4, restricted to the headers the request names as signed."""
    def __init__(self, creds, region, signed):
        super().__init__(creds, 's3', region)
        self.signed = signed

    def headers_to_sign(self, request):
        m = HTTPHeaders()
        for name in self.signed:
            m[name] = request.headers.get(name, '')
        return m


def md5(b):
    return hashlib.md5(b).hexdigest()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def reply(self, status, body=b'', headers=None, length=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body) if length is None else length))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)
        if A.log:
            with LOCK, open(A.log, 'a') as f:
                f.write(f'{self.command} {self.path} {status}\n')

    def error(self, status, code, message=''):
        body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                f'<Message>{escape(message)}</Message></Error>').encode()
        self.reply(status, body, {'Content-Type': 'application/xml'})

    def check_signature(self, body):
        m = AUTH_RE.match(self.headers.get('Authorization', ''))
        if not m:
            return self.error(403, 'AccessDenied', 'no or malformed SigV4 Authorization header')
        key_id, date, region, signed, signature = m.groups()
        if key_id != A.access_key:
            return self.error(403, 'InvalidAccessKeyId', 'unknown access key id')
        if region != A.region:
            return self.error(400, 'AuthorizationHeaderMalformed', f'region should be {A.region}')
        payload = self.headers.get('x-amz-content-sha256')
        if payload is None:
            return self.error(400, 'InvalidRequest', 'missing x-amz-content-sha256')
        if payload != 'UNSIGNED-PAYLOAD' and payload != hashlib.sha256(body).hexdigest():
            return self.error(400, 'XAmzContentSHA256Mismatch', 'body does not match x-amz-content-sha256')
        names = signed.split(';')
        if 'host' not in names or 'x-amz-date' not in names or 'x-amz-content-sha256' not in names:
            return self.error(403, 'AccessDenied', 'host, x-amz-date and x-amz-content-sha256 must be signed')
        timestamp = self.headers.get('x-amz-date', '')
        if timestamp[:8] != date:
            return self.error(403, 'SignatureDoesNotMatch', 'credential date differs from x-amz-date')
        req = AWSRequest(method=self.command, url='https://' + self.headers['Host'] + self.path,
                         headers={n: self.headers.get(n, '') for n in names})
        req.context['timestamp'] = timestamp
        auth = OnlySigned(Credentials(key_id, A.secret), A.region, names)
        expected = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
        if not hmac.compare_digest(expected, signature):
            return self.error(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match')
        return True

    def target(self):
        url = urlsplit(self.path)
        host = self.headers.get('Host', '').rsplit(':', 1)[0]
        path = unquote(url.path)
        if host.endswith('.localhost'):
            return host[:-len('.localhost')], path.lstrip('/'), dict(parse_qsl(url.query, keep_blank_values=True))
        bucket, _, key = path.lstrip('/').partition('/')
        return bucket, key, dict(parse_qsl(url.query, keep_blank_values=True))

    def handle_any(self):
        length = int(self.headers.get('Content-Length', 0) or 0)
        body = self.rfile.read(length) if length else b''
        if self.check_signature(body) is not True:
            return
        bucket, key, q = self.target()
        bdir = os.path.join(A.root, bucket)
        if not bucket or not os.path.isdir(bdir) or bucket.startswith('.'):
            return self.error(404, 'NoSuchBucket', 'The specified bucket does not exist')
        path = os.path.join(bdir, key)
        if '..' in key.split('/') or not key:
            return self.error(400, 'InvalidRequest', 'bad key')
        up = os.path.join(A.root, '.uploads', q.get('uploadId', 'none').replace('/', '_'))
        if self.command == 'POST' and 'uploads' in q:
            uid = uuid.uuid4().hex
            os.makedirs(os.path.join(A.root, '.uploads', uid))
            return self.reply(200, f'<InitiateMultipartUploadResult><Bucket>{bucket}</Bucket><Key>{escape(key)}</Key>'
                                   f'<UploadId>{uid}</UploadId></InitiateMultipartUploadResult>'.encode())
        if 'uploadId' in q and not os.path.isdir(up):
            return self.error(404, 'NoSuchUpload', 'The specified upload does not exist')
        if self.command == 'DELETE' and 'uploadId' in q:  # AbortMultipartUpload
            shutil.rmtree(up)
            return self.reply(204)
        if self.command == 'PUT' and 'partNumber' in q:
            with LOCK:
                PART_REQUESTS[0] += 1
                nth = PART_REQUESTS[0]
            if nth == A.fail_part:
                return self.error(500, 'InternalError', 'injected failure')
            if nth != A.drop_part:
                with open(os.path.join(up, '%05d' % int(q['partNumber'])), 'wb') as f:
                    f.write(body)
            return self.reply(200, headers={'ETag': f'"{md5(body)}"'})
        if self.command == 'GET' and 'uploadId' in q:
            parts = ''
            for name in sorted(os.listdir(up)):
                with open(os.path.join(up, name), 'rb') as f:
                    data = f.read()
                parts += (f'<Part><PartNumber>{int(name)}</PartNumber><ETag>&quot;{md5(data)}&quot;</ETag>'
                          f'<Size>{len(data)}</Size></Part>')
            return self.reply(200, f'<ListPartsResult><UploadId>{q["uploadId"]}</UploadId>'
                                   f'<IsTruncated>false</IsTruncated>{parts}</ListPartsResult>'.encode())
        if self.command == 'POST' and 'uploadId' in q:
            wanted = re.findall(r'<PartNumber>(\d+)</PartNumber>\s*<ETag>"?([0-9a-f]+)"?</ETag>', body.decode())
            data = b''
            for number, etag in wanted:
                p = os.path.join(up, '%05d' % int(number))
                if not os.path.exists(p):
                    return self.error(400, 'InvalidPart', f'part {number} was not uploaded')
                with open(p, 'rb') as f:
                    chunk = f.read()
                if md5(chunk) != etag:
                    return self.error(400, 'InvalidPart', f'part {number} has another ETag')
                data += chunk
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(data)
            for name in os.listdir(up):
                os.remove(os.path.join(up, name))
            os.rmdir(up)
            return self.reply(200, f'<CompleteMultipartUploadResult><Key>{escape(key)}</Key>'
                                   f'</CompleteMultipartUploadResult>'.encode())
        if self.command == 'PUT':
            os.makedirs(os.path.dirname(path), exist_ok=True)
            stored = body
            with LOCK:
                if A.truncate_put and key.endswith(A.truncate_put) and not TRUNCATED[0]:
                    TRUNCATED[0] = True
                    stored = body[:len(body) // 2]
            with open(path + '.tmp', 'wb') as f:
                f.write(stored)
            os.replace(path + '.tmp', path)
            return self.reply(200, headers={'ETag': f'"{md5(body)}"'})
        if self.command in ('GET', 'HEAD'):
            if not os.path.isfile(path):
                return self.error(404, 'NoSuchKey', 'The specified key does not exist')
            with open(path, 'rb') as f:
                data = f.read()
            return self.reply(200, data, {'ETag': f'"{md5(data)}"'})
        return self.error(405, 'MethodNotAllowed', 'not supported here')

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


def main():
    global A
    p = argparse.ArgumentParser()
    for name in ('--root', '--port-file', '--access-key', '--secret', '--region', '--bucket'):
        p.add_argument(name, required=True)
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--log')
    p.add_argument('--fail-part', type=int, default=0)
    p.add_argument('--drop-part', type=int, default=0)
    p.add_argument('--truncate-put', default='')
    A = p.parse_args()
    os.makedirs(os.path.join(A.root, A.bucket), exist_ok=True)
    os.makedirs(os.path.join(A.root, '.uploads'), exist_ok=True)
    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    if A.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(A.cert, A.key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    with open(A.port_file + '.tmp', 'w') as f:
        f.write(str(server.server_address[1]))
    os.replace(A.port_file + '.tmp', A.port_file)
    server.serve_forever()


if __name__ == '__main__':
    main()
