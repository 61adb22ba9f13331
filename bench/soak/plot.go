package main

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"github.com/wakewordd/wakewordd/internal/plot"
)

// writePlot draws RSS (top) and goroutines (bottom) against hours of audio, with the
// broker's restarts as dashed lines.
func writePlot(path, title string, ss []sample, rs []restart) error {
	const W, H = 1300, 900
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	plot.Fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	black := color.RGBA{0, 0, 0, 255}
	grey := color.RGBA{120, 120, 120, 255}
	plot.Text(img, 40, 14, title, black, 2)
	plot.Text(img, 40, 38, "DASHED: BROKER RESTARTS", grey, 2)
	xMax := 0.0
	for _, s := range ss {
		xMax = max(xMax, s.AudioS/3600)
	}
	xMax = max(xMax, 1e-3)
	rss := make([]float64, len(ss))
	gor := make([]float64, len(ss))
	for i, s := range ss {
		rss[i], gor[i] = s.RSSMiB, float64(s.Goroutines)
	}
	var marks []float64
	for _, r := range rs {
		marks = append(marks, r.AudioS/3600)
	}
	panel(img, image.Rect(130, 90, W-40, 440), "RSS (MIB)", ss, rss, xMax, marks, color.RGBA{31, 119, 180, 255})
	panel(img, image.Rect(130, 510, W-40, 820), "GOROUTINES", ss, gor, xMax, marks, color.RGBA{214, 39, 40, 255})
	xTitle := "HOURS OF AUDIO"
	plot.Text(img, 130+(W-170)/2-plot.TextWidth(xTitle, 2)/2, H-40, xTitle, black, 2)
	return plot.WritePNG(path, img)
}

// panel draws one series ys (at the samples' audio hours) in r, its y axis from 0 to a
// round number above the largest value.
func panel(img *image.RGBA, r image.Rectangle, name string, ss []sample, ys []float64, xMax float64, marks []float64, c color.RGBA) {
	black := color.RGBA{0, 0, 0, 255}
	grid := color.RGBA{225, 225, 225, 255}
	axis := color.RGBA{60, 60, 60, 255}
	restart := color.RGBA{150, 150, 150, 255}
	yMax := 0.0
	for _, y := range ys {
		yMax = max(yMax, y)
	}
	yStep := plot.NiceStep(max(yMax, 1) / 5)
	yTop := yStep * math.Ceil(max(yMax, 1)*1.05/yStep)
	xStep := plot.NiceStep(xMax / 8)
	px := func(x float64) int { return r.Min.X + int(math.Round(x/xMax*float64(r.Dx()))) }
	py := func(y float64) int { return r.Max.Y - int(math.Round(y/yTop*float64(r.Dy()))) }
	for y := 0.0; y <= yTop+yStep/2; y += yStep {
		plot.Line(img, r.Min.X, py(y), r.Max.X, py(y), grid, 1, 0)
		label := fmt.Sprintf("%g", y)
		plot.Text(img, r.Min.X-12-plot.TextWidth(label, 2), py(y)-7, label, black, 2)
	}
	for x := 0.0; x <= xMax+xStep/1000; x += xStep {
		plot.Line(img, px(x), r.Min.Y, px(x), r.Max.Y, grid, 1, 0)
		label := fmt.Sprintf("%g", math.Round(x*1000)/1000)
		plot.Text(img, px(x)-plot.TextWidth(label, 2)/2, r.Max.Y+10, label, black, 2)
	}
	for _, m := range marks {
		plot.Line(img, px(m), r.Min.Y, px(m), r.Max.Y, restart, 1, 6)
	}
	plot.Line(img, r.Min.X, r.Max.Y, r.Max.X, r.Max.Y, axis, 2, 0)
	plot.Line(img, r.Min.X, r.Min.Y, r.Min.X, r.Max.Y, axis, 2, 0)
	plot.Text(img, r.Min.X, r.Min.Y-24, name, black, 2)
	for i := 1; i < len(ss); i++ {
		plot.Line(img, px(ss[i-1].AudioS/3600), py(ys[i-1]), px(ss[i].AudioS/3600), py(ys[i]), c, 2, 0)
	}
	if len(ss) == 1 {
		plot.Marker(img, px(ss[0].AudioS/3600), py(ys[0]), c, false)
	}
}
