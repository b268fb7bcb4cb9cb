#!/bin/sh
# Dry run of the liandong package's maintainer scripts: nothing on this
# machine changes. Every command that would change it (users, groups,
# owners, systemd) is a stub on PATH that records its arguments; the
# directories go under a throwaway $DPKG_ROOT, which the scripts honour.
#
# Checks: `postinst configure` creates the group and the system user once,
# /etc/liandong (root:liandong 0750) and /var/lib/liandong
# (liandong:liandong 0750); run again (an upgrade) it changes nothing and
# leaves an administrator's mode alone; `postrm purge` keeps the data
# directory and a non-empty /etc/liandong, and removes an empty one.
#
# Usage: packaging/test-maintainer-scripts.sh DIR
#   DIR holds postinst and postrm (packaging/debian, or the control files
#   of a built package: `dpkg-deb -e liandong_*.deb DIR`, where the
#   systemd snippets are in place and are checked too).
set -eu

scripts=${1:?usage: $0 DIR (with postinst and postrm)}
if [ ! -f "$scripts/postinst" ] || [ ! -f "$scripts/postrm" ]; then
    echo "no postinst and postrm in $scripts" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/liandong-maint.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin" "$work/root"
log="$work/calls"
state="$work/accounts"
: >"$log"
: >"$state"

# Stubs: record the call; getent answers from what the stubs created.
for cmd in groupadd useradd adduser addgroup usermod userdel groupdel chown \
    deb-systemd-helper deb-systemd-invoke systemctl systemd-sysusers \
    systemd-tmpfiles invoke-rc.d update-rc.d; do
    cat >"$work/bin/$cmd" <<STUB
#!/bin/sh
echo "$cmd \$*" >>"$log"
case "$cmd" in
groupadd) echo "group \$(eval echo \\\${\$#})" >>"$state" ;;
useradd) echo "passwd \$(eval echo \\\${\$#})" >>"$state" ;;
esac
exit 0
STUB
    chmod +x "$work/bin/$cmd"
done
cat >"$work/bin/getent" <<STUB
#!/bin/sh
grep -qx "\$1 \$2" "$state"
STUB
chmod +x "$work/bin/getent"

PATH="$work/bin:/usr/bin:/bin"
DPKG_ROOT="$work/root"
export PATH DPKG_ROOT
etc="$DPKG_ROOT/etc/liandong"
var="$DPKG_ROOT/var/lib/liandong"

checks=0
fail() {
    echo "FAIL: $*" >&2
    echo "--- calls:" >&2
    cat "$log" >&2
    exit 1
}
check() { # description, then a command that must succeed
    what=$1
    shift
    "$@" || fail "$what"
    checks=$((checks + 1))
}
count() { grep -c "$1" "$log" || true; }
mode() { stat -c %a "$1"; }

# First install.
sh "$scripts/postinst" configure "" 2>"$work/stderr" || fail "postinst configure exited $?"
check "one system group" [ "$(count '^groupadd --system liandong$')" = 1 ]
check "one system user, home /var/lib/liandong, no login" \
    [ "$(count '^useradd --system --gid liandong --home-dir /var/lib/liandong --no-create-home --shell /usr/sbin/nologin .* liandong$')" = 1 ]
check "/etc/liandong exists" [ -d "$etc" ]
check "/etc/liandong is 0750" [ "$(mode "$etc")" = 750 ]
check "/etc/liandong is root:liandong" [ "$(count "^chown root:liandong $etc\$")" = 1 ]
check "/var/lib/liandong exists" [ -d "$var" ]
check "/var/lib/liandong is 0750" [ "$(mode "$var")" = 750 ]
check "/var/lib/liandong is liandong's" [ "$(count "^chown liandong:liandong $var\$")" = 1 ]
check "the operator is told to write node.toml" grep -q "liandong node init" "$work/stderr"
if grep -q deb-systemd-helper "$scripts/postinst"; then
    check "the unit is enabled" [ "$(count '^deb-systemd-helper enable liandong.service$')" = 1 ]
    check "a fresh install does not start the unit" [ "$(count '^deb-systemd-invoke start')" = 0 ]
fi

# An upgrade: the same script again, with the version it replaces.
calls_before=$(wc -l <"$log")
chmod 0700 "$etc" # an administrator's choice
echo 'id = "350102"' >"$etc/node.toml"
sh "$scripts/postinst" configure 0.1.0-1 2>"$work/stderr" || fail "postinst configure (upgrade) exited $?"
check "no second group" [ "$(count '^groupadd')" = 1 ]
check "no second user" [ "$(count '^useradd')" = 1 ]
check "no owner changed again" [ "$(count '^chown')" = 2 ]
check "an administrator's mode stays" [ "$(mode "$etc")" = 700 ]
check "the config stays" grep -qx 'id = "350102"' "$etc/node.toml"
check "no hint once node.toml exists" sh -c "! grep -q 'node init' '$work/stderr'"
if grep -q deb-systemd-invoke "$scripts/postinst"; then
    # On a machine running systemd the upgrade restarts a running node
    # (try-restart); here /run/systemd/system may be absent: then nothing.
    check "an upgrade only try-restarts" [ "$(count '^deb-systemd-invoke restart')" = 0 ]
fi
check "an upgrade calls nothing but the systemd helpers" \
    [ -z "$(tail -n "+$((calls_before + 1))" "$log" | grep -v -e '^deb-systemd-' -e '^systemctl ')" ]

# Removal, then purge: the data and a non-empty /etc/liandong stay.
echo store >"$var/node.db"
if [ -f "$scripts/prerm" ]; then
    sh "$scripts/prerm" remove || fail "prerm remove exited $?"
fi
sh "$scripts/postrm" remove || fail "postrm remove exited $?"
sh "$scripts/postrm" purge || fail "postrm purge exited $?"
check "purge keeps the store" [ -f "$var/node.db" ]
check "purge keeps a non-empty /etc/liandong" [ -f "$etc/node.toml" ]
rm "$etc/node.toml"
sh "$scripts/postrm" purge || fail "postrm purge (again) exited $?"
check "purge removes an empty /etc/liandong" [ ! -e "$etc" ]
check "purge keeps the user (it may own the data)" [ "$(count '^userdel')" = 0 ]
check "a bad argument is refused" sh -c "! sh '$scripts/postinst' bogus 2>/dev/null"

echo "maintainer scripts: $checks checks passed ($scripts)"
