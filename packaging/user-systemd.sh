#!/usr/bin/env bash
# Runs the packaged unit under a real systemd: a user manager (systemd --user) for root in
# a private mount namespace, as DESIGN.md describes for machines whose PID 1 is not systemd.
#
#   packaging/user-systemd.sh ROOT WAV
#
# ROOT: the unpacked .deb (dpkg-deb -x); WAV: an input long enough that it does not end
# during the test (about a minute). Needs root; exits with 77 when this machine cannot run
# a user manager (saying why), 1 when a check fails. Shows:
#   (i)   Type=notify: `systemctl --user start` returns only after READY=1, the unit active;
#   (ii)  a clean stop: `systemctl --user stop` -> inactive, exit status 0, within
#         TimeoutStopSec;
#   (iii) the watchdog: with `run --fault-stall-after 2s` the pipeline stalls, systemd
#         kills it (Result=watchdog) and restarts it (NRestarts goes up). Reported as
#         pending when the binary has no such flag;
#   (iv)  the microphone path (PortAudio, alsa-lib) works inside the sandbox, with an ALSA
#         file PCM as the microphone.
#
# The unit under test is the packaged one with only these changes, because a user manager
# runs its services as its own user and the test reads a file instead of a microphone:
#   - User=, Group=, SupplementaryGroups= dropped (a user manager cannot switch users);
#   - ExecStart= runs ROOT/usr/bin/wakewordd with ROOT's config and model, statistics
#     every second, and --input WAV --realtime (paced like a microphone) or, for (iv),
#     --device with an ALSA device that HOME=, set for the test, declares;
#   - WatchdogSec=3s and RestartSec=1s, so that a watchdog restart takes seconds;
#   - ProtectHome=read-only instead of yes: a user manager's sd_notify socket is
#     /run/user/0/systemd/notify, which ProtectHome=yes hides (the system manager's is
#     /run/systemd/notify);
#   - stdout and stderr appended to a file (no journald here), and an ExecStopPost= that
#     records how each run ended ($SERVICE_RESULT $EXIT_CODE $EXIT_STATUS): a stopped unit
#     is unloaded at once, and its properties with it.
# Everything else, the sandboxing included, is applied as written: the manager runs as root,
# so it can set up the namespaces, the system call filter and the rest.
#
# The namespace's /run is a tmpfs, so nothing of this reaches the host's systemd state; the
# manager gets a cgroup of its own below this script's, removed at the end.
set -euo pipefail

# Exit status 77: this machine cannot host the test (the reason is printed); 1: a check failed.
cannot() { printf 'user-systemd.sh: CANNOT RUN: %s\n' "$*" >&2; exit 77; }

if [ -z "${WAKEWORDD_USER_SYSTEMD_NS:-}" ]; then
  [ $# -eq 2 ] || { echo "usage: packaging/user-systemd.sh ROOT WAV" >&2; exit 2; }
  [ "$(id -u)" -eq 0 ] || cannot "needs root (a mount namespace, tmpfs mounts, cgroups); running as $(id -un)"
  [ -x /lib/systemd/systemd ] || cannot "no /lib/systemd/systemd (package systemd)"
  for c in unshare script systemctl perl sox; do command -v $c >/dev/null || cannot "no $c"; done
  err=$(unshare --mount --propagation private true 2>&1) || cannot "unshare --mount failed: $err"
  WAKEWORDD_USER_SYSTEMD_NS=1 exec unshare --mount --propagation private "$0" "$@"
fi

src_root=$(realpath "$1")
src_wav=$(realpath "$2")
say() { printf '%s\n' "$*"; }
t=/run/wakewordd-test
fail() {
  # What the manager and the daemon said, then the verdict.
  if [ -f "$t/manager.log" ]; then
    echo "--- systemd --user (last lines)" >&2; tail -15 "$t/manager.log" >&2
  fi
  for f in "$t"/*.log; do
    [ -f "$f" ] && [ "$f" != "$t/manager.log" ] || continue
    echo "--- ${f##*/} (last lines)" >&2; tail -15 "$f" >&2
  done
  [ -z "${KEEP_LOGS:-}" ] || cp "$t"/*.log "$KEEP_LOGS"/ 2>/dev/null
  printf 'user-systemd.sh: FAIL: %s\n' "$*" >&2
  exit 1
}

# --- a cgroup of its own ------------------------------------------------------------------
# The user manager takes the cgroup it starts in as its own and moves every process in it
# into init.scope. Started in the host's root cgroup (a container or VM whose PID 1 is not
# systemd), it would move every process of the machine; in a child cgroup, only this test's.
cgroups=()
for h in /sys/fs/cgroup /sys/fs/cgroup/*; do
  # cgroup v2 at /sys/fs/cgroup, or the v1 hierarchies (and hybrid's unified) below it.
  [ -f "$h/cgroup.procs" ] || continue
  [ "$h" = /sys/fs/cgroup ] || mountpoint -q "$h" || continue
  # The path of this process in that hierarchy (v1: the line naming its controllers or
  # name=systemd; v2: the "0::" line).
  case "$h" in
    /sys/fs/cgroup) key='^0::' ;;
    /sys/fs/cgroup/unified) key='^0::' ;;
    /sys/fs/cgroup/systemd) key='^[0-9]+:name=systemd:' ;;
    *) key="^[0-9]+:([^:]*,)?${h##*/}(,[^:]*)?:" ;;
  esac
  cur=$(grep -E "$key" /proc/self/cgroup | head -1 | cut -d: -f3-)
  [ -n "$cur" ] || continue
  d="$h${cur%/}/wakewordd-test-$$"
  mkdir "$d" 2>/dev/null || continue
  echo $$ >"$d/cgroup.procs" 2>/dev/null || { rmdir "$d"; continue; }
  cgroups+=("$d")
done
[ ${#cgroups[@]} -gt 0 ] || cannot "could not create a cgroup for the user manager under /sys/fs/cgroup (read-only cgroup file system?)"

mgr=""
cleanup() {
  set +e
  if [ -n "$mgr" ]; then
    systemctl --user exit >/dev/null 2>&1
    for _ in $(seq 50); do kill -0 "$mgr" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$mgr" 2>/dev/null
    wait "$mgr" 2>/dev/null
  fi
  # This shell moves back up, anything left below (a service the manager did not stop) is
  # killed, and the trees go.
  for d in "${cgroups[@]}"; do echo $$ >"$(dirname "$d")/cgroup.procs"; done
  for d in "${cgroups[@]}"; do
    for p in $(cat $(find "$d" -name cgroup.procs) 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
  done
  sleep 0.2
  for d in "${cgroups[@]}"; do find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
}
trap cleanup EXIT

# --- the manager ----------------------------------------------------------------------------
# A tmpfs over /run: /run/systemd/system tells the manager it runs under systemd, the unit
# goes to /run/systemd/user, the manager's runtime directory is /run/user/0.
err=$(mount -n -t tmpfs -o mode=755 tmpfs /run 2>&1) || cannot "mounting a tmpfs on /run in the namespace failed: $err"
mkdir -p /run/systemd/system /run/systemd/user /run/lock -m 700 /run/user/0
# The nodes systemd mounts over what a sandbox hides (ProtectKernelLogs= puts "sock" over
# /dev/kmsg, and so on); PID 1 makes them at boot, a user manager expects them.
i=/run/systemd/inaccessible
mkdir -p "$i"
touch "$i/reg"; mkdir "$i/dir"; mkfifo "$i/fifo"; mknod "$i/chr" c 0 0; mknod "$i/blk" b 0 0
perl -MSocket -e 'my $s; socket($s, PF_UNIX, SOCK_STREAM, 0) and bind($s, pack_sockaddr_un($ARGV[0])) or die "$ARGV[0]: $!\n"' "$i/sock"
chmod 0000 "$i"/*
# The files the service reads: outside /tmp (PrivateTmp=) and /root, /home, /run/user
# (ProtectHome=), so that the sandbox does not hide them.
mkdir -p "$t"
cp -a "$src_root" "$t/root"
cp "$src_wav" "$t/input.wav"

export XDG_RUNTIME_DIR=/run/user/0
unset DBUS_SESSION_BUS_ADDRESS
# Without a journal, a user manager logs to /dev/console, and only if that is a terminal:
# script(1) gives it one, a pseudo-terminal bound over /dev/console in this namespace, and
# writes what arrives there to manager.log.
script -qfec 'mount -n --bind "$(tty)" /dev/console && exec /lib/systemd/systemd --user --log-target=console --log-level=info' \
  "$t/manager.log" </dev/null >/dev/null 2>&1 &
mgr=$!
state=""
for _ in $(seq 100); do
  kill -0 "$mgr" 2>/dev/null || break
  state=$(systemctl --user is-system-running 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  sleep 0.2
done
case "$state" in
  running) ;;
  degraded) say "user manager degraded (unrelated user units failed: $(systemctl --user list-units --failed --plain --no-legend | awk '{print $1}' | xargs))" ;;
  *) tail -15 "$t/manager.log" >&2
     cannot "the user manager (systemd --user) did not come up (is-system-running: '${state:-no answer}'; its log is above)" ;;
esac
say "user manager: systemd $(systemctl --user show -P Version) (systemd --user as root), in its own cgroup wakewordd-test-$$"

# --- the unit under test --------------------------------------------------------------------
# unit NAME RUN-FLAGS...: the packaged unit, adapted as described at the top.
unit() {
  local name=$1; shift
  sed -e '/^User=/d; /^Group=/d; /^SupplementaryGroups=/d' \
      -e "s|^ExecStart=.*|ExecStart=$t/root/usr/bin/wakewordd run --config $t/root/etc/wakewordd/config.yaml --model $t/root/usr/share/wakewordd/models/kwt.safetensors --gate $t/root/usr/share/wakewordd/models/kwt-stream.safetensors --stats-interval 1s $*|" \
      -e 's|^WatchdogSec=.*|WatchdogSec=3s|; s|^RestartSec=.*|RestartSec=1s|' \
      -e 's|^ProtectHome=yes$|ProtectHome=read-only|' \
      -e "/^\[Service\]/a Environment=HOME=$t/home\nStandardOutput=append:$t/$name.log\nStandardError=append:$t/$name.log\nExecStopPost=+/bin/sh -c 'echo \$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS >>$t/$name.results'" \
      "$t/root/lib/systemd/system/wakewordd.service" >"/run/systemd/user/$name.service"
  systemctl --user daemon-reload
}
prop() { systemctl --user show -P "$2" "$1.service"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# (i) Type=notify start.
unit wakewordd-test --input "$t/input.wav" --realtime
t0=$(now)
systemctl --user start wakewordd-test.service || fail "(i) systemctl --user start failed"
t1=$(now)
[ "$(prop wakewordd-test ActiveState)/$(prop wakewordd-test SubState)" = active/running ] ||
  fail "(i) after start: $(prop wakewordd-test ActiveState)/$(prop wakewordd-test SubState), want active/running"
ready_us=$(( $(prop wakewordd-test ActiveEnterTimestampMonotonic) - $(prop wakewordd-test ExecMainStartTimestampMonotonic) ))
grep -q 'msg="wakewordd started"' "$t/wakewordd-test.log" || fail "(i) start returned before the daemon logged its start-up"
say "(i) Type=notify: systemctl start returned after $(elapsed "$t0" "$t1") s, when READY=1 came ($((ready_us / 1000)) ms after exec: model loaded, frames flowing); unit active/running"

# Still running after more than WatchdogSec: the daemon pings the watchdog while frames flow.
sleep 4.5
[ "$(prop wakewordd-test ActiveState)" = active ] && [ "$(prop wakewordd-test NRestarts)" = 0 ] ||
  fail "(i) the unit did not stay up for 4.5 s with WatchdogSec=3s: $(prop wakewordd-test ActiveState), $(prop wakewordd-test NRestarts) restarts"
status=$(prop wakewordd-test StatusText)
[ -n "$status" ] || fail "(i) no STATUS= text after 4.5 s (stats every second)"
say "    up 4.5 s with WatchdogSec=3s, no restart; STATUS=$status"
# The sandbox is in force: a seccomp filter, no_new_privs, no capabilities.
pid=$(prop wakewordd-test MainPID)
sandbox=$(awk '/^(Seccomp|NoNewPrivs|CapEff|CapBnd):/ { printf "%s%s=%s", sep, $1, $2; sep = " " }' "/proc/$pid/status" | tr -d :)
[[ "$sandbox" == *"NoNewPrivs=1"* && "$sandbox" == *"Seccomp=2"* && "$sandbox" == *"CapEff=0000000000000000"* && "$sandbox" == *"CapBnd=0000000000000000"* ]] ||
  fail "(i) the daemon runs without the unit's sandbox: $sandbox"
say "    sandbox in force: $sandbox; mount namespace $([ "$(readlink /proc/$pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ] && echo private || echo SHARED)"

# (ii) A clean stop.
limit=$(prop wakewordd-test TimeoutStopUSec)
t0=$(now)
systemctl --user stop wakewordd-test.service
t1=$(now)
got="$(prop wakewordd-test ActiveState), $(cat "$t/wakewordd-test.results" 2>/dev/null)"
# exited 0: it exited by itself (after SIGTERM) with status 0, not killed by a signal.
[ "$got" = "inactive, success exited 0" ] ||
  fail "(ii) after stop: '$got', want 'inactive, success exited 0' (state, \$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS)"
grep -q 'msg="wakewordd stopped"' "$t/wakewordd-test.log" || fail "(ii) the daemon did not log its shutdown"
say "(ii) clean stop: SIGTERM -> exit status 0 in $(elapsed "$t0" "$t1") s (TimeoutStopSec=$limit); unit inactive, result success"

# (iii) The watchdog.
if ! "$t/root/usr/bin/wakewordd" run -h 2>&1 | grep -q -- '-fault-stall-after'; then
  say "(iii) watchdog restart: PENDING: this wakewordd has no 'run --fault-stall-after' flag yet"
else
  unit wakewordd-stall --input "$t/input.wav" --realtime --fault-stall-after 2s
  t0=$(now)
  systemctl --user start wakewordd-stall.service || fail "(iii) systemctl --user start failed"
  # 2 s of audio, then the frames stop: no more pings, and WatchdogSec=3s later systemd
  # aborts the daemon; RestartSec=1s after that it starts again.
  restarts=0
  for _ in $(seq 200); do
    restarts=$(prop wakewordd-stall NRestarts)
    [ "$restarts" -ge 1 ] && [ "$(prop wakewordd-stall ActiveState)" = active ] && break
    sleep 0.1
  done
  t1=$(now)
  first=$(head -1 "$t/wakewordd-stall.results" 2>/dev/null || true)
  case "$first" in
    watchdog\ *) ;;
    *) fail "(iii) the stalled run ended with '${first:-nothing yet}' (\$SERVICE_RESULT \$EXIT_CODE \$EXIT_STATUS), want Result=watchdog" ;;
  esac
  [ "$restarts" -ge 1 ] || fail "(iii) the unit was not restarted after the watchdog fired"
  grep -E 'wakewordd-stall.service: Watchdog timeout' "$t/manager.log" | tr -d '\r' | sed 's/^/    systemd: /'
  say "(iii) watchdog: the pipeline stalled after 2 s of audio; systemd ended the run ($first) and restarted it: NRestarts=$restarts, $(prop wakewordd-stall ActiveState) again $(elapsed "$t0" "$t1") s after the first start"
  systemctl --user stop wakewordd-stall.service
fi

# (iv) The microphone path inside the sandbox: PortAudio and alsa-lib (its plugins loaded
# with dlopen) under the unit's system call filter, MemoryDenyWriteExecute=, ProcSubset=pid
# and the rest. The device is an ALSA file PCM reading raw audio, declared in the
# asoundrc of the service's HOME; no sound card is needed, so /dev/snd is not exercised.
mkdir -p "$t/home"
sox "$t/input.wav" -t raw -r 16000 -c 1 -e signed -b 16 -L "$t/mic.raw"
cat >"$t/home/.asoundrc" <<EOF
pcm.wakewordd_test {
	type plug
	slave { pcm "wakewordd_test_raw"; format S16_LE; rate 16000; channels 1 }
}
pcm.wakewordd_test_raw {
	type file
	slave.pcm "null"
	file "/dev/null"
	infile "$t/mic.raw"
	format "raw"
}
EOF
unit wakewordd-mic --device wakewordd_test
systemctl --user start wakewordd-mic.service || fail "(iv) systemctl --user start failed"
sleep 1.5
[ "$(prop wakewordd-mic ActiveState)" = active ] || fail "(iv) the unit is $(prop wakewordd-mic ActiveState) 1.5 s after READY"
grep -q 'msg="audio flowing" input="\\"wakewordd_test\\"' "$t/wakewordd-mic.log" || fail "(iv) no audio from the ALSA device"
systemctl --user stop wakewordd-mic.service
got=$(cat "$t/wakewordd-mic.results" 2>/dev/null)
[ "$got" = "success exited 0" ] || fail "(iv) after stop: '$got', want 'success exited 0'"
say "(iv) microphone path: PortAudio captured from an ALSA device inside the sandbox (READY, frames flowing, clean stop)"
