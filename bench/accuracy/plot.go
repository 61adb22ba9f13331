package main

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"github.com/wakewordd/wakewordd/internal/plot"
)

var palette = []color.RGBA{
	{31, 119, 180, 255}, {230, 110, 0, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
	{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
}

// writeDET draws the DET curves: miss rate against false alarms per hour (log scale), one
// line per keyword, each the best miss rate reachable at or below each false-alarm rate
// (frontier), with the budgets marked. Points with no false alarm sit in a column left of
// the axis, labelled 0.
func writeDET(path string, res *results) error {
	const W, H = 1300, 820
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	plot.Fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	black := color.RGBA{0, 0, 0, 255}
	grid := color.RGBA{225, 225, 225, 255}
	axis := color.RGBA{60, 60, 60, 255}
	ref := color.RGBA{120, 120, 120, 255}
	title := fmt.Sprintf("DET: MISS RATE VS FALSE ALARMS PER HOUR - %s, %.2f H, SEED %d", filepath.Base(res.Model.Path), res.Hours, res.Seed)
	plot.Text(img, 40, 14, title, black, 2)
	sub := fmt.Sprintf("%s, %d LAYERS, %s BACKGROUND, %g DB SNR, HIT = SPAN + %g S", strings.SplitN(res.Model.Pass, " ", 2)[0], res.Model.Depth, strings.ToUpper(res.Background), res.SNR, res.ToleranceS)
	plot.Text(img, 40, 38, sub, ref, 2)

	// x: log10 of false alarms per hour, from below the smallest non-zero rate the stream
	// can show (one false alarm over its length) and the smallest budget, to the highest
	// on any curve (at most 1000/h).
	lowest := 1 / res.Hours
	for _, a := range res.Average {
		lowest = min(lowest, a.PerHour)
	}
	xLo := math.Floor(math.Log10(lowest / 2))
	xHi := xLo + 2
	yTop := 0.0
	for _, kr := range res.Keywords {
		for _, p := range kr.Frontier {
			if p.FAPerHour > 0 {
				xHi = max(xHi, math.Ceil(math.Log10(p.FAPerHour)))
			}
		}
	}
	xHi = min(xHi, 3)
	for _, kr := range res.Keywords {
		for _, p := range kr.Frontier {
			if p.FAPerHour <= math.Pow(10, xHi) {
				yTop = max(yTop, 100*p.MissRate)
			}
		}
	}
	step := plot.NiceStep(max(yTop, 1) / 6)
	yHi := math.Max(step, math.Ceil(yTop/step)*step)

	r := image.Rect(150, 80, W-330, H-90)
	zeroX := r.Min.X - 50 // the column of the points with no false alarm
	px := func(fa float64) int {
		if fa <= 0 {
			return zeroX
		}
		l := math.Max(xLo, math.Min(xHi, math.Log10(fa)))
		return r.Min.X + int(math.Round((l-xLo)/(xHi-xLo)*float64(r.Dx())))
	}
	py := func(miss float64) int {
		return r.Max.Y - int(math.Round(100*miss/yHi*float64(r.Dy())))
	}
	for e := xLo; e <= xHi; e++ {
		x := px(math.Pow(10, e))
		plot.Line(img, x, r.Min.Y, x, r.Max.Y, grid, 1, 0)
		label := strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", math.Pow(10, e)), "0"), ".")
		plot.Text(img, x-plot.TextWidth(label, 2)/2, r.Max.Y+10, label, black, 2)
		for k := 2; k < 10 && e < xHi; k++ {
			xm := px(float64(k) * math.Pow(10, e))
			plot.Line(img, xm, r.Max.Y-6, xm, r.Max.Y, axis, 1, 0)
		}
	}
	plot.Text(img, zeroX-6, r.Max.Y+10, "0", black, 2)
	for y := 0.0; y <= yHi+1e-9; y += step {
		plot.Line(img, zeroX-10, py(y/100), r.Max.X, py(y/100), grid, 1, 0)
		label := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", y), "0"), ".")
		plot.Text(img, zeroX-22-plot.TextWidth(label, 2), py(y/100)-7, label, black, 2)
	}
	plot.Line(img, r.Min.X, r.Max.Y, r.Max.X, r.Max.Y, axis, 2, 0)
	plot.Line(img, r.Min.X, r.Min.Y, r.Min.X, r.Max.Y, axis, 2, 0)
	xTitle := "FALSE ALARMS PER HOUR (LOG SCALE)"
	plot.Text(img, r.Min.X+r.Dx()/2-plot.TextWidth(xTitle, 2)/2, r.Max.Y+40, xTitle, black, 2)
	plot.Text(img, zeroX-90, r.Min.Y-26, "MISS RATE (%)", black, 2)

	for i, a := range res.Average {
		x := px(a.PerHour)
		plot.Line(img, x, r.Min.Y, x, r.Max.Y, ref, 2, 8)
		label := fmt.Sprintf("%g PER H", a.PerHour)
		if a.PerHour == 0.1 {
			label = "1 PER 10 H"
		}
		plot.Text(img, x+6, r.Min.Y+4+22*i, label, ref, 2)
	}
	for i, kr := range res.Keywords {
		c := palette[i%len(palette)]
		f := kr.Frontier
		if kr.Events == 0 {
			continue
		}
		// Steps: the best miss rate holds until the next false-alarm rate lowers it.
		for j, p := range f {
			if p.FAPerHour > math.Pow(10, xHi) {
				break
			}
			x0, y0 := px(p.FAPerHour), py(p.MissRate)
			x1 := r.Max.X
			if j+1 < len(f) {
				x1 = px(f[j+1].FAPerHour)
			}
			plot.Line(img, x0, y0, x1, y0, c, 3, 0)
			if j+1 < len(f) && f[j+1].FAPerHour <= math.Pow(10, xHi) {
				plot.Line(img, x1, y0, x1, py(f[j+1].MissRate), c, 3, 0)
			}
			if p.FAPerHour == 0 {
				plot.Marker(img, x0, y0, c, true)
			}
		}
		for _, bp := range kr.Budgets {
			if bp.Reached {
				plot.Marker(img, px(bp.PerHour), py(bp.MissRate), c, false)
			}
		}
	}
	// Legend: keyword, then its miss rate at each budget.
	lx, ly := r.Max.X+24, r.Min.Y
	head := "MISS AT"
	for _, a := range res.Average {
		head += fmt.Sprintf(" %g/H", a.PerHour)
	}
	plot.Text(img, lx, ly, head, black, 2)
	for i, kr := range res.Keywords {
		y := ly + 34 + 50*i
		c := palette[i%len(palette)]
		plot.Line(img, lx, y+7, lx+30, y+7, c, 3, 0)
		plot.Text(img, lx+40, y, kr.Keyword, black, 2)
		var parts []string
		for _, bp := range kr.Budgets {
			parts = append(parts, fmt.Sprintf("%.1f%%", 100*bp.MissRate))
		}
		if kr.Events == 0 {
			parts = []string{"NO CLIP PLACED"}
		}
		plot.Text(img, lx+40, y+20, strings.Join(parts, "  "), c, 2)
	}
	y := ly + 34 + 50*len(res.Keywords)
	plot.Text(img, lx+40, y, "AVERAGE", black, 2)
	var parts []string
	for _, a := range res.Average {
		parts = append(parts, fmt.Sprintf("%.1f%%", 100*a.MissRate))
	}
	plot.Text(img, lx+40, y+20, strings.Join(parts, "  "), black, 2)
	return plot.WritePNG(path, img)
}
