//go:build !unix

package nnbench

import (
	"os/exec"
	"time"
)

func peakRSS() int64               { return 0 }
func childRSS(cmd *exec.Cmd) int64 { return 0 }

func cpuTime() time.Duration { return -1 }
