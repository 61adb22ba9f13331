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
		return 0, fmt.Errorf("%s: %w", in, err)
	}
	return streamFeatures(ctx, r, dst, p)
}

// streamFeatures writes the frames of src (16 kHz) to dst as they are computed, so that
// memory stays flat however long the input: the .npy header's row count is filled in at
// the end. Until then the array is dst.tmp, never a half-written file under the real name.
// src is closed. Errors reading src name its file (the audio package's do).
func streamFeatures(ctx context.Context, src audio.Source, dst string, p frontend.Params) (int, error) {
	tmp := dst + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		src.Close()
		return 0, fmt.Errorf("features: writing %s: %w", dst, err)
	}
	fail := func(err error) (int, error) {
		f.Close()
		os.Remove(tmp)
		return 0, err
	}
	arr, err := npy.NewFloat32Writer(f, p.NumCoeffs)
	if err != nil {
		src.Close()
		return fail(fmt.Errorf("features: writing %s: %w", dst, err))
	}
	var werr error
	pl, err := pipeline.New(src, p, func(_ uint64, frame []float32) {
		if werr == nil {
			if werr = arr.Write(frame); werr != nil {
				src.Close() // no use reading on (a full disk)
			}
		}
	})
	if err != nil {
		src.Close()
		return fail(err)
	}
	if err := pl.Run(ctx); werr != nil {
		return fail(fmt.Errorf("features: writing %s: %w", dst, werr))
	} else if err != nil {
		return fail(err)
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	err = errors.Join(arr.Close(), f.Close())
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return 0, fmt.Errorf("features: writing %s: %w", dst, err)
	}
	return int(arr.Rows()), nil
}
