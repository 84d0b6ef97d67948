#!/bin/sh
# Install watcher as a systemd service on Debian 12 or later. As root:
#
#   sh deploy/install.sh dist/watcher-0.1.0-py3-none-any.whl
#
# The wheel comes from `python3 -m pip wheel --no-deps -w dist .` in a checkout.
# Run it again with a newer wheel to upgrade: the site (/srv/watcher), the secrets
# and the state are kept, and a running service is restarted.
#
#   /opt/watcher/                a virtualenv owned by root: the daemon cannot change its code
#   /srv/watcher/                the site (`watcher init`): watcher.yaml, watchlists/, inbox/, var/
#   /etc/watcher/secrets.env     passwords and webhook URLs, 0640 root:watcher
#   /etc/systemd/system/watcher.service, /etc/sysusers.d/ and /etc/tmpfiles.d/watcher.conf
#
# The service is enabled, not started: edit the config first (printed at the end).
#
# DESTDIR=FOLDER installs into FOLDER as the root instead, for tests: the user is
# added to FOLDER/etc/passwd, owners are set by its numbers, the unit is enabled
# there. The virtualenv's scripts then name FOLDER, so it cannot be moved to /.
# PYTHON picks the interpreter (default python3); pip's own PIP_* variables apply.
set -eu

die() {
    echo "install.sh: $*" >&2
    exit 1
}

[ $# -eq 1 ] || {
    echo "usage: sh deploy/install.sh WHEEL" >&2
    exit 2
}
wheel=$1
[ -f "$wheel" ] || die "no wheel at $wheel; build one in a checkout: python3 -m pip wheel --no-deps -w dist ."
here=$(cd "$(dirname "$0")" && pwd)
root=${DESTDIR:-}
python=${PYTHON:-python3}
venv=$root/opt/watcher
site=$root/srv/watcher

command -v systemd-sysusers >/dev/null || die "systemd-sysusers is missing: this needs a systemd system"
"$python" -c 'import ensurepip, sys; assert sys.version_info >= (3, 11)' 2>/dev/null \
    || die "$python must be Python 3.11 or later with venv: apt-get install python3 python3-venv"

echo "1/5 user and group watcher"
install -D -m 644 "$here/watcher.sysusers" "$root/etc/sysusers.d/watcher.conf"
systemd-sysusers ${root:+--root="$root"} watcher.conf

echo "2/5 folders: $site/inbox, $site/var, $root/etc/watcher/secrets.env"
install -D -m 644 "$here/watcher.tmpfiles" "$root/etc/tmpfiles.d/watcher.conf"
systemd-tmpfiles ${root:+--root="$root"} --create watcher.conf

echo "3/5 the code: $wheel into $venv"
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet "$wheel[all]"
# The same version number rebuilt would count as installed already.
"$venv/bin/pip" install --quiet --force-reinstall --no-deps "$wheel"

echo "4/5 the site: $site"
if [ -e "$site/watcher.yaml" ]; then
    echo "    kept: $site/watcher.yaml exists"
else
    "$venv/bin/watcher" init "$site" >/dev/null
fi

echo "5/5 the unit: $root/etc/systemd/system/watcher.service"
install -D -m 644 "$here/watcher.service" "$root/etc/systemd/system/watcher.service"
if [ -n "$root" ]; then
    systemctl --root="$root" --quiet enable watcher.service
else
    systemctl daemon-reload
    systemctl --quiet enable watcher.service
    systemctl try-restart watcher.service
fi

cat <<EOF

watcher is installed and enabled, not started. Next:
  1. Edit /srv/watcher/watcher.yaml (recipients, chat bots, digest time) and the
     topics in /srv/watcher/watchlists/, as root; then check them:
       sudo -u watcher /opt/watcher/bin/watcher --config /srv/watcher/watcher.yaml check
  2. Put the passwords and webhook URLs that the config names (password_env,
     url_env, secret_env) into /etc/watcher/secrets.env as NAME=value lines.
  3. Let whatever delivers pages write to /srv/watcher/inbox (usermod -aG watcher USER).
  4. Start it and follow its log:
       systemctl start watcher && journalctl -u watcher -f
EOF
