#!/usr/bin/env bash
# ops_package.sh -- issue 11, install and package: `cmake --install` with
# prefix /usr puts every file where the system expects it; the Debian package
# (dpkg-buildpackage from debian/) builds from a clean copy of the tree and,
# unpacked into a scratch root (dpkg -x: CI has no running systemd), holds the
# expected files with the expected modes, marks the config as a conffile,
# creates the system user in postinst and enables nothing; the installed
# binary uses the system layout; the unit passes `systemd-analyze verify` and
# scores "OK" or better in `systemd-analyze security`.
. "$(dirname "$0")/lib.sh"
: "${WSUS_SOURCE_DIR:?}" "${WSUS_BUILD_DIR:?}"
T=$E2E_TMP
mode() { stat -c %a "$1" 2>/dev/null; }

# 1. cmake --install, prefix /usr, into a staging directory
DESTDIR="$T/inst" cmake --install "$WSUS_BUILD_DIR" --prefix /usr > "$T/install.log" 2>&1
equals "cmake --install exits 0" $? 0
for f in usr/sbin/wsus-replica usr/share/man/man8/wsus-replica.8 usr/share/man/man5/wsus-replica.conf.5 \
         etc/wsus-replica/wsus-replica.conf usr/lib/systemd/system/wsus-replica.service \
         usr/lib/sysusers.d/wsus-replica.conf usr/lib/tmpfiles.d/wsus-replica.conf; do
  check "cmake --install puts /$f" test -f "$T/inst/$f"
done
equals "the installed config is 0640" "$(mode "$T/inst/etc/wsus-replica/wsus-replica.conf")" 640
check "the installed binary runs" "$T/inst/usr/sbin/wsus-replica" --version

# 2. the Debian package, from a clean copy of the tree
mkdir -p "$T/pkg/src"
tar -C "$WSUS_SOURCE_DIR" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$T/pkg/src" -xf -
rev=$(git -C "$WSUS_SOURCE_DIR" describe --always --dirty --abbrev=12 2>/dev/null || echo unknown)
(cd "$T/pkg/src" && WSUS_GIT_REV="$rev" DEB_BUILD_OPTIONS="parallel=2 nocheck" \
  nice dpkg-buildpackage -b -us -uc > "$T/pkg/build.log" 2>&1)
rc=$?
equals "dpkg-buildpackage exits 0" $rc 0
[ $rc -eq 0 ] || tail -30 "$T/pkg/build.log"
DEB=$(ls "$T"/pkg/wsus-replica_*.deb 2>/dev/null | head -1)
check "a .deb was built" test -n "$DEB"
dpkg-deb -c "$DEB" > "$T/contents" 2>&1
contains "package: binary in /usr/sbin, 0755" "$T/contents" '^-rwxr-xr-x root/root .* \./usr/sbin/wsus-replica$'
contains "package: wsus-replica(8)" "$T/contents" '\./usr/share/man/man8/wsus-replica\.8\.gz$'
contains "package: wsus-replica.conf(5)" "$T/contents" '\./usr/share/man/man5/wsus-replica\.conf\.5\.gz$'
contains "package: the config, 0640" "$T/contents" '^-rw-r----- root/root .* \./etc/wsus-replica/wsus-replica\.conf$'
contains "package: /etc/wsus-replica, 0750" "$T/contents" '^drwxr-x--- root/root .* \./etc/wsus-replica/$'
contains "package: /var/lib/wsus-replica, 0750" "$T/contents" '^drwxr-x--- root/root .* \./var/lib/wsus-replica/$'
contains "package: the systemd unit" "$T/contents" '\./lib/systemd/system/wsus-replica\.service$'
contains "package: sysusers.d entry" "$T/contents" '\./usr/lib/sysusers\.d/wsus-replica\.conf$'
contains "package: tmpfiles.d entry" "$T/contents" '\./usr/lib/tmpfiles\.d/wsus-replica\.conf$'
mkdir -p "$T/root" "$T/ctl"
dpkg-deb -x "$DEB" "$T/root"; dpkg-deb -e "$DEB" "$T/ctl"
equals "scratch root: /var/lib/wsus-replica is 0750" "$(mode "$T/root/var/lib/wsus-replica")" 750
equals "scratch root: /etc/wsus-replica is 0750" "$(mode "$T/root/etc/wsus-replica")" 750
equals "scratch root: binary is 0755" "$(mode "$T/root/usr/sbin/wsus-replica")" 755
contains "the config is a conffile" "$T/ctl/conffiles" '^/etc/wsus-replica/wsus-replica\.conf$'
contains "postinst creates the wsus-replica system user" "$T/ctl/postinst" 'adduser --system .*wsus-replica'
contains "postinst gives the user its data directory" "$T/ctl/postinst" 'chown wsus-replica:wsus-replica /var/lib/wsus-replica'
# dh_installsystemd --no-enable re-enables only a unit the admin had enabled
# (deb-systemd-helper enable inside a was-enabled guard); it never starts it.
en=$(grep -c 'deb-systemd-helper enable' "$T/ctl/postinst")
guard=$(grep -c 'deb-systemd-helper --quiet was-enabled' "$T/ctl/postinst")
check "postinst enables nothing the admin had not enabled" test "$en" -le "$guard"
lacks "postinst starts nothing" "$T/ctl/postinst" 'invoke-rc.d|deb-systemd-invoke (start|restart)|systemctl (enable|start)'
contains "sysusers.d entry names the user" "$T/root/usr/lib/sysusers.d/wsus-replica.conf" '^u wsus-replica '
contains "tmpfiles.d entry: data dir 0750" "$T/root/usr/lib/tmpfiles.d/wsus-replica.conf" '^d /var/lib/wsus-replica 0750 wsus-replica wsus-replica'

# 3. the packaged binary uses the installed layout
"$T/root/usr/sbin/wsus-replica" --help > "$T/help" 2>&1
contains "packaged binary: data in /var/lib/wsus-replica by default" "$T/help" 'default /var/lib/wsus-replica'
contains "packaged binary: reads /etc/wsus-replica/wsus-replica.conf" "$T/help" '/etc/wsus-replica/wsus-replica\.conf'
"$T/root/usr/sbin/wsus-replica" --version > "$T/ver" 2>&1
contains "packaged binary: --version carries the git revision" "$T/ver" "git ${rev%-dirty}"

# 4. the unit
U="$T/root/lib/systemd/system/wsus-replica.service"
contains "unit: Type=notify" "$U" '^Type=notify$'
contains "unit: dedicated user" "$U" '^User=wsus-replica$'
contains "unit: ProtectSystem=strict" "$U" '^ProtectSystem=strict$'
contains "unit: writes only the data dir" "$U" '^ReadWritePaths=/var/lib/wsus-replica$'
contains "unit: no capabilities" "$U" '^CapabilityBoundingSet=$'
# verified on this host's systemd units, with ExecStart pointing into the scratch root
mkdir -p "$T/verify"
sed "s|^ExecStart=/usr/sbin/wsus-replica|ExecStart=$T/root/usr/sbin/wsus-replica|" "$U" > "$T/verify/wsus-replica.service"
systemd-analyze verify --man=no "$T/verify/wsus-replica.service" > "$T/verify.out" 2>&1
rc=$?
equals "systemd-analyze verify passes" $rc 0
[ $rc -eq 0 ] || cat "$T/verify.out"
systemd-analyze security --offline=yes --root="$T/root" wsus-replica.service > "$T/sec" 2>&1
contains "systemd-analyze security: OK or better" "$T/sec" 'Overall exposure level for wsus-replica.service: [0-9.]+ (OK|SAFE)'
grep -o 'Overall exposure level.*' "$T/sec"

e2e_finish
