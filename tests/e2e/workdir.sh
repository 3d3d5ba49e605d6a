# tests/e2e/workdir.sh: where the end-to-end harness keeps its files (sourced
# by run.sh, lib.sh and demo.sh; POSIX sh).
#
# e2e_workdir ROOT NAME: prints the work dir for NAME (e.g. e2e-10025):
# ROOT/tests/work/NAME when the unprivileged users that Postfix and pipe(8)
# run as (postfix, nobody) can reach it, else /var/tmp/postseal-NAME (a
# checkout under /root, mode 0700, is out of their reach: every delivery would
# be deferred).  Creates it (0755).
e2e_can_reach() { # PATH: can user nobody read PATH (and search it if a dir)?
    setpriv --reuid=65534 --regid=65534 --clear-groups -- test -r "$1" -a \( ! -d "$1" -o -x "$1" \) 2>/dev/null
}

e2e_workdir() {
    _w=$1/tests/work/$2
    mkdir -p "$_w" && chmod 0755 "$1/tests/work" "$_w" 2>/dev/null
    if ! e2e_can_reach "$_w"; then
        _w=/var/tmp/postseal-$2
        mkdir -p "$_w" && chmod 0755 "$_w"
    fi
    echo "$_w"
}
