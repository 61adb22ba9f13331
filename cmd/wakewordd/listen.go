package main

import (
	"flag"

	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/kernels"
	"github.com/wakewordd/wakewordd/listener"
)

// specFromFlags loads the config (file, then flags) and resolves it against its model and
// gate.
func specFromFlags(fs *flag.FlagSet, cf *configFlags) (*listener.Spec, error) {
	c, src, err := cf.load(fs)
	if err != nil {
		return nil, err
	}
	return listener.Load(c, src)
}

// mlpArithmetic describes how the MLPs run, e.g. "int8 (sdot)", for the start-up log.
func mlpArithmetic(m *infer.Model) string {
	if m.MLP == infer.MLPInt8 {
		return "int8 (" + kernels.Int8Impl() + ")"
	}
	return infer.MLPFloat32
}
