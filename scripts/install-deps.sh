#!/bin/sh
# Installs Portico's build and test dependencies: apt-get on Debian/Ubuntu,
# dnf on Fedora/RHEL. Run as root (or through sudo). Idempotent.
# --slow adds what `make test-slow` needs: nginx (the baselines) and the TLS
# scanners testssl.sh and sslscan (test/integration/test_tls_scan.py).
# PT_DEPS_EXTRA adds more packages (apt-get only).
set -eu

SLOW=
[ "${1:-}" = --slow ] && SLOW=1

SUDO=
if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: run as root" >&2; exit 1; }
    SUDO=sudo
fi

if command -v apt-get >/dev/null 2>&1; then
    # libdeflate-dev is optional (configure probes it): faster gzip
    pkgs="gcc make pkg-config libssl-dev libpcre2-dev zlib1g-dev check
          libdeflate-dev python3 curl openssl procps"
    [ "$SLOW" ] && pkgs="$pkgs nginx-light testssl.sh sslscan"
    [ "${PT_DEPS_EXTRA:-}" ] && pkgs="$pkgs $PT_DEPS_EXTRA"
    missing=
    for p in $pkgs; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
    fi
elif command -v dnf >/dev/null 2>&1; then
    $SUDO dnf install -y gcc make pkgconf-pkg-config openssl-devel \
        pcre2-devel zlib-devel libdeflate-devel check-devel python3 curl \
        openssl procps-ng ${SLOW:+nginx testssl sslscan}
else
    echo "install-deps: no apt-get or dnf; install a C compiler, make," \
         "pkg-config, OpenSSL, PCRE2, zlib and Check development files" >&2
    exit 1
fi
