#!/usr/bin/env bash
# A cluster of N "hosts" on this machine for multi-node tests: each host is a network namespace
# (its own IP address on a private bridge, its own host name through a UTS namespace) running a real
# sshd that accepts a key made for the cluster. The file system is shared, as on a cluster with a
# shared home.
#
#   scripts/fake_cluster.sh up DIR N     creates hosts node1..nodeN; writes DIR/hostfile (one line
#                                        per host, slots=2), DIR/ssh_config, DIR/hosts (name ip),
#                                        DIR/env (ZS_SSH_ARGS=-F DIR/ssh_config) and DIR/down.sh
#   scripts/fake_cluster.sh down DIR     stops every process in the hosts and removes them
#   scripts/fake_cluster.sh check        exit 0 when this machine can make such hosts (root, ip netns,
#                                        unshare, sshd), else prints why and exits 1
#   scripts/fake_cluster.sh install      installs iproute2 and openssh-server/client (Debian), without
#                                        letting sshd start as a service
#
# Needs root, iproute2 and openssh-server/client (Debian: apt install iproute2 openssh-server).
set -euo pipefail

install() {
  local need=()
  for pkg in iproute2 openssh-server openssh-client; do dpkg -s $pkg >/dev/null 2>&1 || need+=($pkg); done
  [ ${#need[@]} -eq 0 ] && return 0
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e $policy ]; then printf '#!/bin/sh\nexit 101\n' > $policy; chmod +x $policy; made_policy=1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  [ $made_policy = 1 ] && rm -f $policy
  return 0
}

check() {
  [ "$(id -u)" = 0 ] || { echo "fake_cluster: needs root (network namespaces)"; return 1; }
  for tool in ip unshare ssh ssh-keygen; do
    command -v $tool >/dev/null || { echo "fake_cluster: $tool is missing"; return 1; }
  done
  [ -x /usr/sbin/sshd ] || { echo "fake_cluster: /usr/sbin/sshd is missing (apt install openssh-server)"; return 1; }
  local probe=zsprobe$$
  if ! ip netns add $probe 2>/dev/null; then echo "fake_cluster: cannot create network namespaces here"; return 1; fi
  ip netns del $probe
  if ! ip link add ${probe}b type bridge 2>/dev/null; then echo "fake_cluster: cannot create a bridge here"; return 1; fi
  ip link del ${probe}b
}

up() {
  local dir=$1 n=$2
  check >&2 || exit 1
  mkdir -p "$dir" /run/sshd
  dir=$(cd "$dir" && pwd)
  # A free subnet: the bridge's name is the lock (creating it fails when another cluster has it).
  local k bridge=""
  for k in $(seq 1 250); do
    if ip link add zscl$k type bridge 2>/dev/null; then bridge=zscl$k; break; fi
  done
  [ -n "$bridge" ] || { echo "fake_cluster: no free subnet" >&2; exit 1; }
  echo "$k" > "$dir/subnet"
  ip addr add 10.78.$k.1/24 dev $bridge
  ip link set $bridge up

  ssh-keygen -q -t ed25519 -N '' -f "$dir/host_key" <<<y >/dev/null 2>&1
  ssh-keygen -q -t ed25519 -N '' -f "$dir/client_key" <<<y >/dev/null 2>&1
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  cat > "$dir/ssh_config" <<EOF
Host *
  IdentityFile $dir/client_key
  IdentitiesOnly yes
  StrictHostKeyChecking no
  UserKnownHostsFile /dev/null
  LogLevel ERROR
  BatchMode yes
  ConnectTimeout 10
EOF
  : > "$dir/hostfile"
  : > "$dir/hosts"
  local i
  for i in $(seq 1 "$n"); do
    local ns=zs${k}n$i ip=10.78.$k.$((10 + i))
    ip netns add $ns
    ip link add zs${k}v$i type veth peer name eth0 netns $ns
    ip link set zs${k}v$i master $bridge up
    ip -n $ns addr add $ip/24 dev eth0
    ip -n $ns link set eth0 up
    ip -n $ns link set lo up
    cat > "$dir/sshd_$i.conf" <<EOF
ListenAddress $ip
Port 22
HostKey $dir/host_key
PidFile $dir/sshd_$i.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PrintMotd no
LogLevel ERROR
EOF
    # Its own host name (OpenMPI tells nodes apart by name), then sshd in the foreground, detached.
    setsid ip netns exec $ns unshare --uts sh -c "hostname node$i; exec /usr/sbin/sshd -D -e -f $dir/sshd_$i.conf" \
      >"$dir/sshd_$i.log" 2>&1 < /dev/null &
    echo "$ip slots=2" >> "$dir/hostfile"
    echo "node$i $ip" >> "$dir/hosts"
  done
  echo "ZS_SSH_ARGS=-F $dir/ssh_config" > "$dir/env"
  printf '#!/bin/sh\nexec %q down %q\n' "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$dir" > "$dir/down.sh"
  chmod +x "$dir/down.sh"
  # Wait until every sshd answers.
  for i in $(seq 1 "$n"); do
    local ip=10.78.$k.$((10 + i)) tries=0
    until ssh -F "$dir/ssh_config" $ip true 2>/dev/null; do
      tries=$((tries + 1))
      if [ $tries -gt 100 ]; then echo "fake_cluster: sshd on $ip does not answer" >&2; cat "$dir/sshd_$i.log" >&2; exit 1; fi
      sleep 0.1
    done
  done
}

down() {
  local dir=$1
  [ -f "$dir/subnet" ] || return 0
  local k; k=$(cat "$dir/subnet")
  local ns
  for ns in $(ip netns list | awk '{print $1}' | grep "^zs${k}n[0-9]*$" || true); do
    # Every process still in the host: sshd and whatever the test left behind (by id).
    local pids; pids=$(ip netns pids $ns || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del $ns 2>/dev/null || true
  done
  ip link del zscl$k 2>/dev/null || true
  rm -f "$dir/subnet"
}

case "${1:-}" in
  up) up "$2" "${3:-2}" ;;
  down) down "$2" ;;
  check) check ;;
  install) install ;;
  *) echo "usage: $0 up DIR N | down DIR | check | install" >&2; exit 2 ;;
esac
