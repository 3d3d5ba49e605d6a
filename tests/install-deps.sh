#!/bin/sh
# Installs every Debian package listed in tests/deps.d/*.txt that is missing.
# Runs apt-get update first whenever something has to be installed.  Needs root
# only when a package is missing.
set -eu
cd "$(dirname "$0")"
want=$(cat deps.d/*.txt | sed 's/#.*//' | tr -s ' \t' '\n\n' | grep -v '^$' | sort -u)
missing=""
for p in $want; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    case "$st" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
    esac
done
[ -z "$missing" ] && exit 0
echo "postseal: installing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "postseal: need root to install packages:$missing" >&2
    exit 1
fi
# Postfix and slapd must not ask questions nor configure a system instance.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
