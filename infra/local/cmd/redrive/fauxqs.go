package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// fauxqsPorts lists the TCP ports the running fauxqs servers of this user
// listen on, from the proc file system (Linux): make dev starts fauxqs
// (infra/local/services/fauxqs.mjs) on a port the OS picks and does not
// print it.
func fauxqsPorts(proc string) ([]int, error) {
	pids, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	inodes := map[string]bool{}
	for _, e := range pids {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		dir := filepath.Join(proc, e.Name())
		cmdline, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || !isFauxqs(cmdline) {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(dir, "fd", fd.Name()))
			if ino, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
				inodes[strings.TrimSuffix(ino, "]")] = true
			}
		}
	}
	if len(inodes) == 0 {
		return nil, errors.New("no fauxqs process found")
	}
	var ports []int
	for _, table := range []string{"net/tcp", "net/tcp6"} {
		found, err := listeningPorts(filepath.Join(proc, table), inodes)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		ports = append(ports, found...)
	}
	slices.Sort(ports)
	ports = slices.Compact(ports)
	if len(ports) == 0 {
		return nil, errors.New("fauxqs found but not listening")
	}
	return ports, nil
}

// isFauxqs: node running infra/local/services/fauxqs.mjs.
func isFauxqs(cmdline []byte) bool {
	args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "node" &&
		strings.HasSuffix(args[1], filepath.Join("infra", "local", "services", "fauxqs.mjs"))
}

// listeningPorts reads a /proc/net/tcp table: the local ports of LISTEN
// sockets (state 0A) among inodes.
func listeningPorts(path string, inodes map[string]bool) ([]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ports []int
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" || !inodes[fields[9]] {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		port, err := strconv.ParseUint(hexPort, 16, 16)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s: bad local address %q", path, fields[1])
		}
		ports = append(ports, int(port))
	}
	return ports, sc.Err()
}
