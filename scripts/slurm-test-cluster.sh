#!/usr/bin/env bash
# A single-node Slurm cluster on localhost for the tests and the bench: Debian's slurmctld and
# slurmd (22.05), no munge (auth/none, cred/none), no systemd (the daemons run directly, with pid
# files), everything under DIR. The node declares more CPUs than the host has
# (SlurmdParameters=config_overrides), so many small jobs run at once on a 2-core machine.
#   slurm-test-cluster.sh start DIR [PORT]   # prints the SLURM_CONF to export
#   slurm-test-cluster.sh stop DIR
#   slurm-test-cluster.sh restart-controller DIR
#   slurm-test-cluster.sh start-node DIR       # slurmd again, after a test killed it
# Not for production: anyone who can reach the ports can submit jobs as anyone.
set -euo pipefail
cmd=${1:?usage: slurm-test-cluster.sh start|stop|restart-controller DIR [PORT]}
dir=${2:?usage: slurm-test-cluster.sh start|stop|restart-controller DIR [PORT]}
port=${3:-6817}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf="$dir/slurm.conf"

start_ctld() {
    /usr/sbin/slurmctld -f "$conf" -L "$dir/slurmctld.log" -i
    for _ in $(seq 1 100); do
        SLURM_CONF="$conf" scontrol ping 2>/dev/null | grep -q UP && return 0
        sleep 0.1
    done
    echo "slurmctld did not come up; see $dir/slurmctld.log" >&2
    return 1
}

stop_pid() {
    local file=$1
    [ -f "$file" ] || return 0
    local pid
    pid=$(cat "$file")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$file"
}

case "$cmd" in
start)
    mkdir -p "$dir/state" "$dir/spool"
    cat > "$conf" <<CONF
ClusterName=spooldtest
SlurmctldHost=localhost
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/none
CredType=cred/none
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd-%n
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
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
MaxArraySize=100001
MaxJobCount=100000
KillWait=5
SlurmdTimeout=10
InactiveLimit=0
JobAcctGatherType=jobacct_gather/none
NodeName=localhost CPUs=64 RealMemory=64000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF="$conf"
    start_ctld
    /usr/sbin/slurmd -f "$conf" -L "$dir/slurmd.log"
    for _ in $(seq 1 100); do
        state=$(sinfo -h -o %T 2>/dev/null || true)
        case "$state" in idle*|mixed*|alloc*) echo "SLURM_CONF=$conf"; exit 0 ;; esac
        sleep 0.1
    done
    echo "slurmd did not register (state: ${state:-none}); see $dir/slurmd.log" >&2
    exit 1
    ;;
stop)
    stop_pid "$dir/slurmd.pid"
    stop_pid "$dir/slurmctld.pid"
    ;;
restart-controller)
    export SLURM_CONF="$conf"
    stop_pid "$dir/slurmctld.pid"
    start_ctld
    ;;
start-node)
    /usr/sbin/slurmd -f "$conf" -L "$dir/slurmd.log"
    ;;
*)
    echo "unknown command $cmd" >&2
    exit 64
    ;;
esac
