#!/usr/bin/env bash
# Two Slurm nodes on one machine, for the node-failure test: each slurmd in a network namespace
# of its own (ip netns, veth pairs on a bridge), the controller on the host at the bridge's
# address. Killing a node's processes (kill-node) is a node failure: after SlurmdTimeout the
# controller marks it DOWN and its jobs NODE_FAIL. Same settings as slurm-test-cluster.sh.
#   slurm-two-node-cluster.sh start DIR PORT   # nodes n1 and n2; prints SLURM_CONF=...
#   slurm-two-node-cluster.sh kill-node DIR NODE
#   slurm-two-node-cluster.sh stop DIR
set -euo pipefail
cmd=${1:?usage: slurm-two-node-cluster.sh start|kill-node|stop DIR [PORT|NODE]}
dir=${2:?usage: slurm-two-node-cluster.sh start|kill-node|stop DIR [PORT|NODE]}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"
tag=$(cat "$dir/tag" 2>/dev/null || echo $(( $$ % 1000 )))
bridge="spbr$tag"
net=10.$(( 100 + tag % 100 )).$(( tag / 100 )).0

case "$cmd" in
start)
    port=${3:-6817}
    echo "$tag" > "$dir/tag"
    mkdir -p "$dir/state"
    ip link add "$bridge" type bridge
    ip addr add "${net%.0}.1/24" dev "$bridge"
    ip link set "$bridge" up
    for i in 1 2; do
        ns="spn$tag-$i"
        ip netns add "$ns"
        ip link add "spv$tag-$i" type veth peer name eth0 netns "$ns"
        ip link set "spv$tag-$i" master "$bridge" up
        ip -n "$ns" addr add "${net%.0}.1$i/24" dev eth0
        ip -n "$ns" link set eth0 up
        ip -n "$ns" link set lo up
        mkdir -p "$dir/spool-n$i"
    done
    cat > "$conf" <<CONF
ClusterName=spooldtwo
SlurmctldHost=$(hostname -s)(${net%.0}.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd-%n.pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=100
SlurmdParameters=config_overrides
SchedulerParameters=sched_interval=1,batch_sched_delay=0
MinJobAge=600
KillWait=5
SlurmdTimeout=10
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
NodeName=n1 NodeAddr=${net%.0}.11 CPUs=16 RealMemory=16000 State=UNKNOWN
NodeName=n2 NodeAddr=${net%.0}.12 CPUs=16 RealMemory=16000 State=UNKNOWN
PartitionName=debug Nodes=n1,n2 Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$conf"
    /usr/sbin/slurmctld -f "$conf" -L "$dir/slurmctld.log" -i
    for i in 1 2; do
        # nsenter, not ip netns exec: that one mounts a sysfs of its own, without /sys/fs/cgroup.
        nsenter --net=/var/run/netns/"spn$tag-$i" /usr/sbin/slurmd -f "$conf" -N "n$i" -L "$dir/slurmd-n$i.log"
    done
    for _ in $(seq 1 150); do
        up=$(sinfo -h -N -o '%N %T' 2>/dev/null | grep -cE 'idle|mixed|alloc' || true)
        [ "$up" = 2 ] && { echo "SLURM_CONF=$conf"; exit 0; }
        sleep 0.2
    done
    echo "the nodes did not register: $(sinfo -h -N -o '%N %T' 2>&1 | tr '\n' ' '); see $dir/*.log" >&2
    exit 1
    ;;
kill-node)
    node=${3:?which node}
    ns="spn$tag-${node#n}"
    # Everything in the node's namespace: its slurmd, the jobs' slurmstepd, the wrappers and the jobs.
    pids=$(ip netns pids "$ns" || true)
    [ -n "$pids" ] && kill -9 $pids || true
    ;;
stop)
    if [ -f "$dir/slurmctld.pid" ]; then
        pid=$(cat "$dir/slurmctld.pid")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    for i in 1 2; do
        ns="spn$tag-$i"
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
        ip netns del "$ns" 2>/dev/null || true
    done
    ip link del "$bridge" 2>/dev/null || true
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 64
    ;;
esac
