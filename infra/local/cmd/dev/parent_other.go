//go:build !linux

package main

// stopWithParent has no portable equivalent; Ctrl-C reaches the whole
// process group anyway.
func stopWithParent() {}
