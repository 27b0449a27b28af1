// The pod sandbox ("pause") image of the real test node: holds the pod's namespaces and waits for a signal.
// kubernetes' own build/pause/linux/pause.c does the same in C; this one needs no C compiler.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
	<-c
}
