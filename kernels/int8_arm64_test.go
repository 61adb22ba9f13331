//go:build gc && !purego

package kernels

import "testing"

// TestInt8Widen runs the product tests on the path for cores without SDOT
// (SMULL, SADALP), which TestInt8MulVec runs only on such cores (qemu
// -cpu cortex-a53 in CI); on the others it runs SDOT.
func TestInt8Widen(t *testing.T) {
	t.Logf("this CPU has SDOT: %v", useSDOT)
	was := useSDOT
	defer func() { useSDOT = was }()
	useSDOT = false
	TestInt8MulVec(t)
	if got := Int8Impl(); got != "smull" {
		t.Errorf("Int8Impl() = %q without SDOT, want smull", got)
	}
	useSDOT = true
	if got := Int8Impl(); got != "sdot" {
		t.Errorf("Int8Impl() = %q with SDOT, want sdot", got)
	}
}
