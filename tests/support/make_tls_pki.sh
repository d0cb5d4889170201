#!/usr/bin/env bash
# Throwaway TLS PKI for the https destination tests: make_tls_pki.sh DIR
#   DIR/ca.crt                          CA of the receiver and of enrolled sites
#   DIR/server.{crt,key}                receiver certificate, SAN IP:127.0.0.1 + DNS:localhost, serverAuth
#   DIR/client.{crt,key}                site client certificate (CN=edge-site1), clientAuth
#   DIR/other-ca.crt                    an unrelated CA, and from it:
#   DIR/other-server.{crt,key}          a receiver certificate the site must refuse
#   DIR/other-client.{crt,key}          a client certificate the receiver must refuse
# All keys are EC P-256 (fast to make).
set -euo pipefail
dir=$1
mkdir -p "$dir" && cd "$dir"
umask 077
ca() {  # name
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.crt" \
    -days 3650 -subj "/CN=sennen-test-$1" -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
leaf() {  # name ca cn extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
  printf '%b' "$4" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 825 -out "$1.crt" \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
server_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
client_ext='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n'
ca ca
ca other-ca
leaf server ca sennen-test-receiver "$server_ext"
leaf client ca edge-site1 "$client_ext"
leaf other-server other-ca sennen-test-receiver "$server_ext"
leaf other-client other-ca edge-site1 "$client_ext"
rm -f ./*.srl
chmod 600 ./*.key
chmod 644 ./*.crt
