package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/wakewordd/wakewordd/audio"
	"github.com/wakewordd/wakewordd/frontend"
	"github.com/wakewordd/wakewordd/npy"
	"github.com/wakewordd/wakewordd/pipeline"
)

func cmdFeatures(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("features", "[-o OUT.npy | --outdir DIR] [--channel N] FILE...")
	out := fs.String("o", "", "output .npy file (only with a single input)")
	outDir := fs.String("outdir", ".", "write DIR/<name>.npy for each input")
	channel := fs.Int("channel", audio.MixAll, "channel to use, -1 = mix down")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	if *out != "" && fs.NArg() > 1 {
		return fmt.Errorf("features: -o takes a single input, got %d (use --outdir)", fs.NArg())
	}
	p := frontend.DefaultParams()
	for _, in := range fs.Args() {
		dst := *out
		if dst == "" {
			base := strings.TrimSuffix(filepath.Base(in), filepath.Ext(in)) + ".npy"
			dst = filepath.Join(*outDir, base)
		}
		n, err := writeFeatures(ctx, in, dst, *channel, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d frames x %d -> %s\n", in, n, p.NumCoeffs, dst)
	}
	return nil
}

// writeFeatures streams one file through the same pipeline as the daemon and saves its
// frames as a float32 [frames, coefficients] array.
func writeFeatures(ctx context.Context, in, dst string, channel int, p frontend.Params) (int, error) {
	src, err := audio.OpenFileContext(ctx, in, audio.FileOptions{Channel: channel})
	if err != nil {
		return 0, err
	}
	r, err := audio.Resample16k(src)
	if err != nil {
		src.Close()
		return 0, err
	}
	var frames []float32
	pl, err := pipeline.New(r, p, func(_ uint64, f []float32) {
		frames = append(frames, f...)
	})
	if err != nil {
		r.Close()
		return 0, err
	}
	if err := pl.Run(ctx); err != nil {
		return 0, err
	}
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	n := len(frames) / p.NumCoeffs
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return 0, err
	}
	err = npy.WriteFloat32(f, []int{n, p.NumCoeffs}, frames)
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, dst) // never leave a half-written .npy under the real name
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("features: writing %s: %w", dst, err)
	}
	return n, nil
}
