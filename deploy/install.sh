#!/usr/bin/env bash
# Installs TEC Hub as a service on Debian 12 / Raspberry Pi OS (bookworm). Run as root from a
# checkout:   sudo deploy/install.sh
# Safe to run again (after a `git pull`, say): it updates the code and the unit, and never touches
# an existing /etc/tec-hub/config.yaml or /etc/udev/rules.d/99-tec-hub.rules.
#
#   --root DIR     stage every file under DIR instead of / (also DESTDIR=DIR); no apt-get, no
#                  useradd, no chown, no systemctl, no udevadm: for tests and for packaging
#   --git URL      install a fresh `git clone` of URL instead of this checkout (--ref BRANCH/TAG)
#   --skip-build   copy the code but do not run npm ci / npm run build (tests; code already built)
#   --no-start     install and enable, but do not start or restart the service
#
# What it does: apt packages -> Node.js >= 20.19 check -> user tec-hub (group dialout) -> code to
# /opt/tec-hub (built there by root, owned by root: the service can read it, not change it) ->
# /etc/tec-hub/config.yaml from config/demo.yaml if absent -> unit + udev rules + /usr/local/bin/tec-hub
# -> systemctl daemon-reload, enable --now (restart if the code changed).
set -euo pipefail

NAME=tec-hub
SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="${DESTDIR:-}"
GIT_URL=""
GIT_REF=""
BUILD=1
START=1
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "==> $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || die "--root needs a directory"; ROOT="$2"; shift 2 ;;
    --root=*) ROOT="${1#--root=}"; shift ;;
    --git) [ $# -ge 2 ] || die "--git needs a URL"; GIT_URL="$2"; shift 2 ;;
    --ref) [ $# -ge 2 ] || die "--ref needs a branch or tag"; GIT_REF="$2"; shift 2 ;;
    --skip-build) BUILD=0; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

STAGED=0
if [ -n "$ROOT" ]; then
  STAGED=1
  mkdir -p "$ROOT"
  ROOT="$(cd "$ROOT" && pwd)"
elif [ "$(id -u)" -ne 0 ]; then
  die "run as root (sudo $0), or stage the files with --root DIR"
fi

OPT="$ROOT/opt/$NAME"
ETC="$ROOT/etc/$NAME"
UNIT_DIR="$ROOT/etc/systemd/system"
RULES_DIR="$ROOT/etc/udev/rules.d"
BIN_DIR="$ROOT/usr/local/bin"

# Writes $2 to $1 only when the content differs (keeps the file and its mtime on a second run).
# Prints "changed" when it wrote.
put() {
  local dest="$1" content="$2" mode="$3"
  if [ -f "$dest" ] && [ "$(cat "$dest")" = "$content" ]; then return 0; fi
  mkdir -p "$(dirname "$dest")"
  printf '%s\n' "$content" >"$dest.tmp.$$"
  chmod "$mode" "$dest.tmp.$$"
  mv -f "$dest.tmp.$$" "$dest"
  echo changed
}

# --- 1. Debian packages -----------------------------------------------------------------------
# git: --git installs; socat: the demo's simulated serial boards; python3/make/g++: the fallback
# when npm finds no prebuilt better-sqlite3 for this Node and CPU; udev: udevadm, which
# serialport's list() runs. Node.js itself is NOT installed from Debian: bookworm has 18.
if [ "$STAGED" -eq 0 ]; then
  say "Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends ca-certificates git socat udev python3 make g++
fi

# --- 2. Node.js >= 20.19 ----------------------------------------------------------------------
NODE="$(command -v node || true)"
[ -n "$NODE" ] || die "Node.js not found. TEC Hub needs Node.js >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR (Debian 12 ships 18).
Install Node.js 20 or 22 first, either from NodeSource (https://github.com/nodesource/distributions:
their nodistro setup script for node_20.x or node_22.x, then apt-get install nodejs)
or the official tarball from nodejs.org unpacked under /usr/local; then run this script again."
NODE_VERSION="$("$NODE" --version)"
major="${NODE_VERSION#v}"; major="${major%%.*}"
minor="${NODE_VERSION#v*.}"; minor="${minor%%.*}"
if [ "$major" -lt "$NODE_MIN_MAJOR" ] || { [ "$major" -eq "$NODE_MIN_MAJOR" ] && [ "$minor" -lt "$NODE_MIN_MINOR" ]; }; then
  die "Node.js $NODE_VERSION at $NODE is too old: TEC Hub needs >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR (Debian 12's nodejs package is 18).
Install Node.js 20 or 22 from NodeSource or the official tarball (see the README), then run this script again."
fi
say "Node.js $NODE_VERSION ($NODE)"

# --- 3. User and groups -----------------------------------------------------------------------
# A system user with its home in the state directory (which systemd creates on the first start),
# no login shell. dialout: so `sudo -u tec-hub tec-hub ...` reaches the boards too (the service
# gets dialout from SupplementaryGroups= anyway).
if [ "$STAGED" -eq 0 ]; then
  getent group dialout >/dev/null || groupadd --system dialout
  if ! id "$NAME" >/dev/null 2>&1; then
    say "user $NAME"
    useradd --system --user-group --home-dir "/var/lib/$NAME" --no-create-home \
      --shell /usr/sbin/nologin --comment "TEC Hub" "$NAME"
  fi
  id -nG "$NAME" | tr ' ' '\n' | grep -qx dialout || usermod -a -G dialout "$NAME"
fi

# --- 4. The code in /opt/tec-hub --------------------------------------------------------------
WORK=""
cleanup() { if [ -n "$WORK" ]; then rm -rf "$WORK"; fi; if [ -d "$OPT.new" ]; then rm -rf "$OPT.new"; fi; }
trap cleanup EXIT
if [ -n "$GIT_URL" ]; then
  command -v git >/dev/null || die "git not found (apt-get install git)"
  WORK="$(mktemp -d)"
  say "git clone $GIT_URL ${GIT_REF:+($GIT_REF)}"
  git clone -q --depth 1 ${GIT_REF:+--branch "$GIT_REF"} "$GIT_URL" "$WORK/src"
  SRC="$WORK/src"
fi
[ -f "$SRC/package.json" ] && [ -f "$SRC/deploy/$NAME.service" ] || die "$SRC is not a TEC Hub checkout"

# What is copied: the source, without what is made on the machine (node_modules, builds, data,
# test output) or git's own files.
EXCLUDES=(--exclude=./.git --exclude=./node_modules --exclude=./dist --exclude=./dashboard/dist
  --exclude=./data --exclude=./test-artifacts --exclude=./coverage --exclude=./.tmp
  --exclude=./firmware-bridge/build --exclude='*.db' --exclude='*.db-wal' --exclude='*.db-shm')
# A fingerprint of that tree: a second run with the same source copies and builds nothing.
fingerprint="$(tar -C "$SRC" "${EXCLUDES[@]}" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | sha256sum | cut -d' ' -f1)"
CODE_CHANGED=0
if [ -f "$OPT/.source-sha256" ] && [ "$(cat "$OPT/.source-sha256")" = "$fingerprint" ] &&
   { [ "$BUILD" -eq 0 ] || [ -f "$OPT/dist/hub/src/cli.js" ]; }; then
  say "code in $OPT is up to date"
else
  CODE_CHANGED=1
  # Built beside the running copy and swapped in only once the build succeeded: a failed update
  # leaves the old code (and the running hub) as it was.
  say "code -> $OPT"
  rm -rf "$OPT.new"
  mkdir -p "$OPT.new"
  tar -C "$SRC" "${EXCLUDES[@]}" -cf - . | tar -C "$OPT.new" -xf - --no-same-owner
  if [ "$BUILD" -eq 1 ]; then
    say "npm ci && npm run build (a few minutes on a Raspberry Pi)"
    # As root, in a tree only root can write: the service user can read its code, never change it.
    (cd "$OPT.new" && npm ci --no-audit --no-fund && npm run build) || die "the build failed; $OPT is unchanged"
  fi
  echo "$fingerprint" >"$OPT.new/.source-sha256"
  [ "$STAGED" -eq 1 ] || chown -R root:root "$OPT.new"
  chmod -R u+rwX,go+rX,go-w "$OPT.new"
  if [ -d "$OPT" ]; then mv "$OPT" "$OPT.old"; fi
  mv "$OPT.new" "$OPT"
  rm -rf "$OPT.old"
fi

# --- 5. Config (never overwritten) ------------------------------------------------------------
mkdir -p "$ETC"
if [ -e "$ETC/config.yaml" ]; then
  say "$ETC/config.yaml exists: kept as it is"
else
  say "$ETC/config.yaml from config/demo.yaml (edit it, then: tec-hub check-config $ETC/config.yaml)"
  cp "$OPT/config/demo.yaml" "$ETC/config.yaml.tmp.$$"
  # It holds passwords: readable by root and the service only.
  chmod 0640 "$ETC/config.yaml.tmp.$$"
  [ "$STAGED" -eq 1 ] || chown "root:$NAME" "$ETC/config.yaml.tmp.$$"
  mv "$ETC/config.yaml.tmp.$$" "$ETC/config.yaml"
fi

# --- 6. Unit, udev rules, command ------------------------------------------------------------
# The unit names /usr/bin/node (NodeSource's place); another Node (the official tarball under
# /usr/local) is written into the installed copy instead.
unit="$(sed "s|^ExecStart=/usr/bin/node |ExecStart=$NODE |" "$OPT/deploy/$NAME.service")"
UNIT_CHANGED="$(put "$UNIT_DIR/$NAME.service" "$unit" 0644)"
[ -z "$UNIT_CHANGED" ] || say "unit -> $UNIT_DIR/$NAME.service"

# The rules are examples to fill in: installed once, then they are the site's own file.
RULES_CHANGED=""
if [ -e "$RULES_DIR/99-$NAME.rules" ]; then
  say "$RULES_DIR/99-$NAME.rules exists: kept as it is"
else
  RULES_CHANGED="$(put "$RULES_DIR/99-$NAME.rules" "$(cat "$OPT/deploy/99-$NAME.rules")" 0644)"
  say "udev rules -> $RULES_DIR/99-$NAME.rules (examples: put in your boards' serial numbers)"
fi

# `tec-hub <command>` as the service runs it: as user tec-hub, in the state directory (so the
# config's relative paths find the same database). Give it absolute file names.
wrapper="#!/bin/sh
# TEC Hub's command line as the service runs it (installed by deploy/install.sh).
# Runs as user $NAME in /var/lib/$NAME: relative paths in the config mean the same as for the service.
# Examples: tec-hub check-config /etc/$NAME/config.yaml
#           tec-hub backup /var/lib/$NAME/backups/manual.db --config /etc/$NAME/config.yaml
cd /var/lib/$NAME || exit 1
if [ \"\$(id -u)\" -eq 0 ]; then
  exec runuser -u $NAME -- $NODE /opt/$NAME/bin/$NAME.js \"\$@\"
fi
exec $NODE /opt/$NAME/bin/$NAME.js \"\$@\""
[ -z "$(put "$BIN_DIR/$NAME" "$wrapper" 0755)" ] || say "command -> $BIN_DIR/$NAME"

if [ "$STAGED" -eq 1 ]; then
  say "staged under $ROOT (no systemctl, udevadm, users or packages)"
  exit 0
fi

# --- 7. systemd and udev ----------------------------------------------------------------------
if [ -n "$RULES_CHANGED" ] && command -v udevadm >/dev/null; then
  udevadm control --reload
  udevadm trigger --subsystem-match=tty
fi
# The state directory (systemd makes it on start) exists before the first start, for the wrapper.
install -d -m 0750 -o "$NAME" -g "$NAME" "/var/lib/$NAME"
systemctl daemon-reload
if [ "$START" -eq 1 ]; then
  if systemctl is-active --quiet "$NAME" && { [ "$CODE_CHANGED" -eq 1 ] || [ -n "$UNIT_CHANGED" ]; }; then
    say "restarting $NAME (new code or unit)"
    systemctl enable "$NAME"
    systemctl restart "$NAME"
  else
    systemctl enable --now "$NAME"
  fi
  systemctl --no-pager --lines=0 status "$NAME" || true
  say "logs: journalctl -u $NAME -f    dashboard: http://$(hostname -I 2>/dev/null | cut -d' ' -f1):8080"
else
  systemctl enable "$NAME"
fi
