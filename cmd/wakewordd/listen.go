package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/listener"
)

// specFromFlags loads the config (file, then flags) and resolves it against its model and
// gate; thresholds that can hardly fire are warned about on stderr.
func specFromFlags(fs *flag.FlagSet, cf *configFlags) (*listener.Spec, error) {
	c, src, err := cf.load(fs)
	if err != nil {
		return nil, err
	}
	s, err := listener.Load(c, src)
	if err == nil {
		for _, w := range s.Warnings {
			fmt.Fprintln(os.Stderr, "wakewordd: warning:", w)
		}
	}
	return s, err
}

// mlpArithmetic describes how the MLPs run, e.g. "int8 (sdot)", for the start-up log.
func mlpArithmetic(m *infer.Model) string {
	if m.MLP == infer.MLPInt8 {
		return "int8 (" + kernels.Int8Impl() + ")"
	}
	return infer.MLPFloat32
}
