#!/bin/sh
# Checks a built liandong Debian package without installing it: its
# control fields (dpkg-deb -I), its files (dpkg-deb -c), that the packaged
# binary runs, the maintainer scripts (their user and directory creation,
# and a dry run of them: test-maintainer-scripts.sh), the systemd unit
# (systemd-analyze verify against the unpacked package, where
# systemd-analyze exists), and lintian's view when lintian is installed
# (printed, never a failure: its style warnings are advice).
#
# Usage: packaging/check-deb.sh PACKAGE.deb
set -eu

deb=${1:?usage: $0 PACKAGE.deb}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/liandong-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT

passed=0
fail() {
    echo "FAIL: $*" >&2
    echo "package: $passed passed, 1 failed"
    exit 1
}
ok() { passed=$((passed + 1)); }

dpkg-deb -I "$deb" >"$work/info"
dpkg-deb -c "$deb" >"$work/files"
cat "$work/info"
cat "$work/files"

grep -q '^ Package: liandong$' "$work/info" || fail "the package is not named liandong"
ok
grep -q '^ Depends:.*passwd' "$work/info" || fail "no dependency on passwd (useradd, groupadd)"
ok
for script in postinst prerm postrm; do
    grep -qE "^ +[0-9]+ bytes, +[0-9]+ lines +\\*? +$script +#!/bin/sh" "$work/info" \
        || fail "no executable $script in the control archive"
    ok
done
for path in ./usr/bin/liandong ./usr/lib/systemd/system/liandong.service ./usr/share/doc/liandong/README.md; do
    grep -q " $path\$" "$work/files" || fail "$path is not in the package"
    ok
done
grep -qE '^-rwxr-xr-x (root/root|0/0) .* \./usr/bin/liandong$' "$work/files" || fail "usr/bin/liandong is not root's 0755"
ok

dpkg-deb -x "$deb" "$work/root"
dpkg-deb -e "$deb" "$work/control"
"$work/root/usr/bin/liandong" --version | grep -q '^liandong ' || fail "the packaged binary does not run"
ok
"$work/root/usr/bin/liandong" node init --help | grep -q -- '--parent' || fail "the packaged binary has no node init"
ok

unit="$work/root/usr/lib/systemd/system/liandong.service"
# shellcheck disable=SC2016 # $MAINPID is the unit's, not this shell's
for line in 'ExecStart=/usr/bin/liandong node run --config /etc/liandong/node.toml' \
    'User=liandong' 'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' \
    'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/liandong' \
    'StateDirectory=liandong' 'WantedBy=multi-user.target'; do
    grep -qxF "$line" "$unit" || fail "the unit lacks $line"
    ok
done
grep -q 'useradd --system' "$work/control/postinst" || fail "postinst creates no system user"
ok
grep -q 'groupadd --system' "$work/control/postinst" || fail "postinst creates no system group"
ok
grep -q 'deb-systemd-helper enable liandong.service' "$work/control/postinst" || fail "postinst does not enable the unit"
ok
if grep -q '#DEBHELPER#' "$work/control/postinst" "$work/control/postrm"; then
    fail "a #DEBHELPER# token was left in a maintainer script"
fi
ok

sh "$here/test-maintainer-scripts.sh" "$work/control" || fail "the maintainer scripts' dry run"
ok

if command -v systemd-analyze >/dev/null 2>&1 && [ -d /lib/systemd/system ]; then
    # verify needs the unit's commands and systemd's own units in the root.
    mkdir -p "$work/root/usr/lib/systemd" "$work/root/bin"
    cp -r /lib/systemd/system/. "$work/root/usr/lib/systemd/system/"
    cp /bin/kill "$work/root/bin/kill"
    systemd-analyze verify --root="$work/root" /usr/lib/systemd/system/liandong.service \
        || fail "systemd-analyze verify refuses the unit"
    ok
    echo "systemd-analyze verify: the unit is sound"
else
    echo "systemd-analyze not installed: the unit was not verified by systemd"
fi

if command -v lintian >/dev/null 2>&1; then
    echo "lintian (advice, not a failure):"
    lintian --tag-display-limit 0 "$deb" || true
fi
echo "package checked: $deb"
echo "package: $passed passed, 0 failed"
