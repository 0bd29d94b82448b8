package main

import (
	"os"
	"strconv"
	"strings"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/<pid>/stat's times: 100
// on every architecture Go supports there.
const clockTicks = 100

// cpuSample is CPU seconds (user + system, all threads) of this process
// and of its children by command name ("java" is DynamoDB Local, "node"
// fauxqs), from /proc; empty where there is no /proc.
type cpuSample map[string]float64

func sampleCPU() cpuSample {
	self := os.Getpid()
	out := cpuSample{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, cpu, ok := procStat(pid)
		switch {
		case !ok:
		case pid == self:
			out["self"] += cpu
		case ppid == self:
			out[comm] += cpu
		}
	}
	return out
}

// procStat reads a process's command name, parent and CPU seconds.
func procStat(pid int) (comm string, ppid int, cpu float64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, 0, false
	}
	open, closing := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
	if open < 0 || closing < open {
		return "", 0, 0, false
	}
	f := strings.Fields(string(b[closing+1:]))
	if len(f) < 13 {
		return "", 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return string(b[open+1 : closing]), ppid, (utime + stime) / clockTicks, true
}

// cpuPer is the CPU milliseconds per operation each process spent between
// two samples.
func cpuPer(before, after cpuSample, ops int) map[string]float64 {
	out := map[string]float64{}
	if ops <= 0 {
		return out
	}
	names := map[string]string{"self": "bench_process", "java": "dynamodb_local", "node": "fauxqs"}
	for k, v := range after {
		name, ok := names[k]
		if !ok {
			continue
		}
		out[name] = (v - before[k]) * 1000 / float64(ops)
	}
	return out
}
