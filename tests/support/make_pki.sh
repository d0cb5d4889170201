#!/usr/bin/env bash
# Throwaway PKI for tests: make_pki.sh DIR -> DIR/{ca,central,site}.{crt,key}
# central = batch recipient (RSA-3072), site = batch signer (EC P-256), both issued by ca.
set -euo pipefail
dir=$1
mkdir -p "$dir" && cd "$dir"
umask 077
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt \
  -days 3650 -subj "/CN=sennen-test-ca" -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
issue() {  # name keyalg... -- extensions
  local name=$1; shift
  openssl req -newkey "$@" -nodes -keyout "$name.key" -out "$name.csr" -subj "/CN=sennen-test-$name" 2>/dev/null
}
issue central rsa:3072
issue site ec -pkeyopt ec_paramgen_curve:P-256
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,keyEncipherment\n' > central.ext
printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=emailProtection,clientAuth\n' > site.ext
for n in central site; do
  openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -out $n.crt -extfile $n.ext 2>/dev/null
  rm -f $n.csr $n.ext
done
chmod 600 ./*.key
chmod 644 ./*.crt
