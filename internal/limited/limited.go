// Package limited reads files that must be small: configs and model files, which a typo
// or a hostile path could otherwise point at something huge.
package limited

import (
	"fmt"
	"io"
	"os"
)

// ReadFile reads the whole file, or fails without reading more than max+1 bytes when it
// is larger than max.
func ReadFile(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: file is larger than %d bytes", path, max)
	}
	return data, nil
}
