#!/bin/sh
# Make a PostgreSQL server available for the PostgreSQL-backend tests (Debian/Ubuntu).
#
# Installs the server binaries (apt-get install postgresql) unless a server is
# already configured (SOCIALCARE_TEST_PG_URL) or the binaries are already there.
# The tests start their own throwaway server (tests/pg_server.py); this script
# starts none, and keeps the package from auto-starting its default cluster.
#
# This script NEVER fails the build: if PostgreSQL cannot be installed it says
# so loudly on stderr and exits 0, and the PostgreSQL-backend tests are skipped
# (the pytest summary repeats the warning).
#
# Usage: sh scripts/install-postgres.sh   (as root, e.g. in CI before pytest)

set -u

PG_LIBDIR=${PG_LIBDIR:-/usr/lib/postgresql}

say() {
    echo "install-postgres: $*"
}

give_up() {
    {
        echo
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!  PostgreSQL could not be installed: $*"
        echo "!!"
        echo "!!  The PostgreSQL backend tests will be SKIPPED; only SQLite will be tested."
        echo "!!  To test PostgreSQL: install the 'postgresql' package (initdb and pg_ctl),"
        echo "!!  or set SOCIALCARE_TEST_PG_URL=postgresql://user@host:port/dbname"
        echo "!!  to a server where that user may create databases."
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo
    } >&2
    exit 0
}

# The initdb the tests will use: PATH first, then the newest $PG_LIBDIR/<version>/bin.
find_initdb() {
    found=$(command -v initdb 2>/dev/null) && [ -n "$found" ] && {
        echo "$found"
        return 0
    }
    newest=""
    newest_version=-1
    for candidate in "$PG_LIBDIR"/*/bin/initdb; do
        [ -x "$candidate" ] || continue
        version=${candidate#"$PG_LIBDIR"/}
        version=${version%%/*}
        version=${version%%.*}
        case $version in '' | *[!0-9]*) version=0 ;; esac
        if [ "$version" -gt "$newest_version" ]; then
            newest=$candidate
            newest_version=$version
        fi
    done
    [ -n "$newest" ] && echo "$newest"
}

if [ -n "${SOCIALCARE_TEST_PG_URL:-}" ]; then
    say "SOCIALCARE_TEST_PG_URL is set; the tests will use that server, nothing to install"
    exit 0
fi

initdb=$(find_initdb)
if [ -n "$initdb" ]; then
    say "PostgreSQL server binaries already installed ($initdb)"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    give_up "not running as root, so cannot apt-get install postgresql (run this script as root)"
fi
if ! command -v apt-get >/dev/null 2>&1; then
    give_up "apt-get not found (this script installs the Debian/Ubuntu package only)"
fi

log=$(mktemp "${TMPDIR:-/tmp}/install-postgres.XXXXXX") || log=/dev/null

# Keep the package's maintainer scripts from starting the default cluster: the
# tests start their own server. Only if no policy is in place already.
policy=/usr/sbin/policy-rc.d
own_policy=""
if [ ! -e "$policy" ] && [ -d /usr/sbin ]; then
    if printf '#!/bin/sh\nexit 101\n' >"$policy" 2>/dev/null && chmod 755 "$policy"; then
        own_policy=$policy
    fi
fi
cleanup() {
    [ -n "$own_policy" ] && rm -f "$own_policy"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_postgres() {
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql \
        >>"$log" 2>&1 </dev/null
}

say "installing PostgreSQL with apt-get (log: $log) ..."
if ! install_postgres; then
    say "apt-get install failed; running apt-get update and retrying once ..."
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 </dev/null
    if ! install_postgres; then
        if [ "$log" != /dev/null ]; then
            echo "----- last lines of $log -----" >&2
            tail -n 25 "$log" >&2
            echo "-----" >&2
        fi
        give_up "apt-get install postgresql failed (full log: $log)"
    fi
fi

initdb=$(find_initdb)
if [ -z "$initdb" ]; then
    give_up "the postgresql package installed, but no initdb was found in PATH or $PG_LIBDIR/*/bin (log: $log)"
fi
[ "$log" != /dev/null ] && rm -f "$log"
say "PostgreSQL installed ($initdb)"
exit 0
