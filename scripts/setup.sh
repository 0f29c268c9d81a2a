#!/usr/bin/env bash
# Installs everything Outpost's build, demo and tests need on a fresh Debian 12 machine, then
# builds. Idempotent: running it again only checks. Needs root (apt-get); as root on CI.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential python3            # node-gyp for the TUN addon
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu binutils-aarch64-linux-gnu  # arm64 releases: cross-compiled addons
  iproute2 iptables conntrack iputils-ping procps file
  strongswan-charon strongswan-swanctl strongswan-pki
  libstrongswan-standard-plugins libcharon-extra-plugins libstrongswan-extra-plugins  # openssl, gcm, kernel-libipsec, chapoly, curve25519
  mosquitto mosquitto-clients socat iperf3 tshark
  wireguard-go wireguard-tools       # the throughput bench compares against wireguard-go
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Debian packages may start services on install; tests start their own instances.
for svc in mosquitto strongswan-starter strongswan; do
  command -v systemctl >/dev/null 2>&1 && systemctl disable --now "$svc" >/dev/null 2>&1 || true
done

# Native addons build against the running Node's own headers when the distro ships them.
[ -d /usr/include/node ] && export npm_config_nodedir=/usr

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run build
