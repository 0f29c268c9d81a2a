#!/bin/sh
# Installs an Outpost release bundle on the box (docs/technician.md, docs/release.md).
#
#   install.sh BUNDLE.tar.gz [--root DIR] [--etc DIR] [--expect-key KEYID] [--no-systemd]
#
# Already installed (ROOT/current exists): hands over to the running firmware's
# `outpost update`, which verifies the bundle against the release key built into the version in
# use, installs it into the other slot, switches, and rolls back by itself if the new version
# does not bring the tunnel up (and connect to MQTT) in time.
#
# First install: the bundle is checked with its own firmware (every file against the signed
# manifest, the signature against the key built into it); --expect-key KEYID makes sure that key
# is the one you expect (docs/release.md lists the production key id). It goes into ROOT/a,
# ROOT/current points at it, and (without --no-systemd) the systemd unit is installed and
# started, with a default config in ETC/outpost.json if there is none yet.
set -eu

ROOT=/opt/outpost
ETC=/etc/outpost
SYSTEMD=1
EXPECT_KEY=""
BUNDLE=""

die() { echo "install.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a directory}; shift 2 ;;
    --etc) ETC=${2:?--etc needs a directory}; shift 2 ;;
    --expect-key) EXPECT_KEY=${2:?--expect-key needs a key id}; shift 2 ;;
    --no-systemd) SYSTEMD=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) die "unknown option $1" ;;
    *) [ -z "$BUNDLE" ] || die "one bundle at a time"; BUNDLE=$1; shift ;;
  esac
done
[ -n "$BUNDLE" ] || die "usage: install.sh BUNDLE.tar.gz [--root DIR] [--etc DIR] [--expect-key KEYID] [--no-systemd]"
[ -f "$BUNDLE" ] || die "no such file: $BUNDLE"
BUNDLE=$(readlink -f "$BUNDLE")

if [ -x "$ROOT/current/bin/outpost" ]; then
  echo "install.sh: Outpost is installed in $ROOT; updating with the running firmware's own checks"
  if [ "$SYSTEMD" = 1 ]; then
    exec "$ROOT/current/bin/outpost" update "$BUNDLE" --root "$ROOT"
  else
    exec "$ROOT/current/bin/outpost" update "$BUNDLE" --root "$ROOT" --no-restart --no-health
  fi
fi

mkdir -p "$ROOT"
tmp=$(mktemp -d "$ROOT/.install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
# GNU tar refuses members with ".." and strips leading "/"; the files are checked again below.
tar -xzf "$BUNDLE" -C "$tmp" --no-same-owner
[ -x "$tmp/bin/outpost" ] && [ -x "$tmp/node/bin/node" ] || die "$BUNDLE is not an Outpost release bundle"
if ! "$tmp/node/bin/node" --version >/dev/null 2>&1; then
  die "the bundled Node does not run here (a bundle for another architecture? this machine is $(uname -m))"
fi
"$tmp/bin/outpost" verify-bundle "$BUNDLE" || die "refusing $BUNDLE"
KEY_ID=$("$tmp/node/bin/node" -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).keyId)' "$tmp/manifest.json")
if [ -n "$EXPECT_KEY" ] && [ "$KEY_ID" != "$EXPECT_KEY" ]; then
  die "$BUNDLE is signed with key $KEY_ID, not the expected $EXPECT_KEY"
fi
echo "install.sh: signed with key $KEY_ID${EXPECT_KEY:+ (as expected)}"
"$tmp/bin/outpost" update "$BUNDLE" --root "$ROOT" --no-restart --no-health

if [ ! -f "$ETC/outpost.json" ]; then
  mkdir -p "$ETC"
  chmod 0700 "$ETC"
  install -m 0600 "$ROOT/current/config/outpost.json" "$ETC/outpost.json"
  echo "install.sh: default config in $ETC/outpost.json (provision the box over its serial console)"
fi

if [ "$SYSTEMD" = 1 ]; then
  install -m 0644 "$ROOT/current/systemd/outpost.service" /etc/systemd/system/outpost.service
  ln -sf "$ROOT/current/bin/outpost" /usr/local/bin/outpost
  systemctl daemon-reload
  systemctl enable --now outpost
  echo "install.sh: outpost.service enabled and started; 'outpost status' shows the tunnel"
else
  echo "install.sh: installed in $ROOT (no systemd unit installed)"
fi
