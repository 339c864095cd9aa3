#!/usr/bin/env bash
# Prepares a mosquitto for trying Kognita on one machine, from the project's own
# Config/mosquitto.conf and Config/mosquitto.acl: a directory with a local CA and
# a broker certificate (for the TLS listener), a password file holding the bridge
# user, the ACL, and the config with its paths and ports pointed there.
#
#   Scripts/local-broker.sh DIR [PLAIN_PORT] [TLS_PORT]
#   mosquitto -c DIR/mosquitto.conf
#
# The bridge's password is written to DIR/bridge-password (0600). Devices are
# added with: kognita device add --key device.key --password-file DIR/mosquitto.passwd
# (then `kill -HUP` the broker so it reloads the password file).
set -euo pipefail
dir="${1:?usage: Scripts/local-broker.sh DIR [PLAIN_PORT] [TLS_PORT]}"
plain="${2:-1883}"
tls="${3:-8883}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$dir/ca" "$dir/data"
dir="$(cd "$dir" && pwd)"

if [ ! -f "$dir/ca/ca.pem" ]; then
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
    -keyout "$dir/ca/ca.key.pem" -out "$dir/ca/ca.pem" -subj "/CN=Kognita local CA" 2>/dev/null
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$dir/ca/broker.key.pem" -out "$dir/ca/broker.csr" -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$dir/ca/san.ext"
  openssl x509 -req -in "$dir/ca/broker.csr" -CA "$dir/ca/ca.pem" -CAkey "$dir/ca/ca.key.pem" -CAcreateserial \
    -days 825 -sha256 -extfile "$dir/ca/san.ext" -out "$dir/ca/broker.pem" 2>/dev/null
  chmod 600 "$dir/ca/ca.key.pem" "$dir/ca/broker.key.pem"
fi
if [ ! -f "$dir/bridge-password" ]; then
  (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$dir/bridge-password")
  args=(-b "$dir/mosquitto.passwd" kognita-bridge "$(cat "$dir/bridge-password")")
  [ -f "$dir/mosquitto.passwd" ] || args=(-c "${args[@]}")
  mosquitto_passwd "${args[@]}"
fi
chmod 600 "$dir/mosquitto.passwd"
cp "$repo/Config/mosquitto.acl" "$dir/mosquitto.acl"

# Run as root, mosquitto drops to its own user, which could not read these files.
user="$(id -un)"
sed -e "s|/var/lib/kognita/mosquitto/|$dir/data/|" \
    -e "s|/etc/kognita/ca/|$dir/ca/|g" \
    -e "s|/etc/kognita/mosquitto.passwd|$dir/mosquitto.passwd|" \
    -e "s|/etc/kognita/mosquitto.acl|$dir/mosquitto.acl|" \
    -e "s|^listener 8883\$|listener $tls|" \
    -e "s|^listener 1883 127.0.0.1\$|listener $plain 127.0.0.1|" \
    "$repo/Config/mosquitto.conf" > "$dir/mosquitto.conf"
printf '\n# Added by Scripts/local-broker.sh\nuser %s\nlog_dest file %s/mosquitto.log\n' "$user" "$dir" >> "$dir/mosquitto.conf"
echo "broker prepared in $dir: mosquitto -c $dir/mosquitto.conf  (MQTT on 127.0.0.1:$plain, TLS on :$tls; bridge password in $dir/bridge-password)"
