package sweep

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"strings"

	"github.com/wakewordd/wakewordd/infer"
	"github.com/wakewordd/wakewordd/internal/plot"
)

// WritePlot draws the sweep as a PNG in the manner of the Delta KWT paper's figure:
// accuracy against the share of operations removed, one panel for the MHSA operations and
// one for all operations, with the global-theta curve and the greedy per-layer path of
// both scopes, the dense accuracy and the accuracy budget. It uses only the standard
// library (and the small bitmap font below), so no plotting tool is needed at run time.
func WritePlot(path string, points []Point, denseAcc, budget float64, a infer.Arch) error {
	const W, H = 1400, 640
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), color.RGBA{255, 255, 255, 255})
	title := fmt.Sprintf("DELTA KWT: ACCURACY VS MACS REMOVED - %d LAYERS, D=%d, DENSE ACCURACY %.2f %%", a.Depth, a.Dim, 100*denseAcc)
	drawText(img, 40, 12, title, color.RGBA{0, 0, 0, 255}, 2)

	// The accuracy axis spans every point, the dense accuracy and the budget line.
	lo, hi := denseAcc-budget, denseAcc
	for _, p := range points {
		lo, hi = min(lo, p.Accuracy), max(hi, p.Accuracy)
	}
	step := niceStep((hi - lo) * 100 / 6)
	yLo := math.Floor(lo*100/step) * step
	yHi := math.Ceil(hi*100/step) * step
	if yHi-yLo < step {
		yHi = yLo + step
	}
	panels := []struct {
		title string
		x     func(Point) float64
	}{
		{"MHSA MACS REMOVED (%)", func(p Point) float64 { return 100 * p.MHSARed }},
		{"ALL MACS REMOVED (%)", func(p Point) float64 { return 100 * p.TotalRed }},
	}
	for i, pn := range panels {
		r := image.Rect(90+i*W/2, 76, W/2*(i+1)-30, H-80)
		drawPanel(img, r, pn.title, pn.x, points, denseAcc, budget, yLo, yHi, step)
	}
	return plot.WritePNG(path, img)
}

var (
	colMHSA = color.RGBA{31, 119, 180, 255}
	colAll  = color.RGBA{230, 110, 0, 255}
	colGrid = color.RGBA{225, 225, 225, 255}
	colAxis = color.RGBA{60, 60, 60, 255}
	colRef  = color.RGBA{120, 120, 120, 255}
)

func drawPanel(img *image.RGBA, r image.Rectangle, xTitle string, xOf func(Point) float64,
	points []Point, denseAcc, budget, yLo, yHi, yStep float64) {
	px := func(x float64) int { return r.Min.X + int(math.Round(x/100*float64(r.Dx()))) }
	py := func(y float64) int { return r.Max.Y - int(math.Round((y-yLo)/(yHi-yLo)*float64(r.Dy()))) }
	black := color.RGBA{0, 0, 0, 255}
	for x := 0.0; x <= 100; x += 10 {
		line(img, px(x), r.Min.Y, px(x), r.Max.Y, colGrid, 1, 0)
		label := fmt.Sprintf("%g", x)
		drawText(img, px(x)-len(label)*6, r.Max.Y+8, label, black, 2)
	}
	for y := yLo; y <= yHi+1e-9; y += yStep {
		line(img, r.Min.X, py(y), r.Max.X, py(y), colGrid, 1, 0)
		label := strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", y), "0"), ".")
		drawText(img, r.Min.X-12-len(label)*12, py(y)-7, label, black, 2)
	}
	line(img, r.Min.X, r.Max.Y, r.Max.X, r.Max.Y, colAxis, 2, 0)
	line(img, r.Min.X, r.Min.Y, r.Min.X, r.Max.Y, colAxis, 2, 0)
	drawText(img, r.Min.X+r.Dx()/2-len(xTitle)*6, r.Max.Y+34, xTitle, black, 2)
	drawText(img, r.Min.X-70, r.Min.Y-30, "ACCURACY (%)", black, 2)

	line(img, r.Min.X, py(100*denseAcc), r.Max.X, py(100*denseAcc), colRef, 2, 0)
	line(img, r.Min.X, py(100*(denseAcc-budget)), r.Max.X, py(100*(denseAcc-budget)), colRef, 1, 6)

	type series struct {
		scope, search string
		col           color.RGBA
		label         string
	}
	all := []series{
		{"mhsa", "global", colMHSA, "MHSA SITES, GLOBAL THETA"},
		{"mhsa", "model", colMHSA, "MHSA SITES, MODEL X SCALE"},
		{"mhsa", "greedy", colMHSA, "MHSA SITES, PER-LAYER GREEDY"},
		{"all", "global", colAll, "ALL SITES, GLOBAL THETA"},
		{"all", "model", colAll, "ALL SITES, MODEL X SCALE"},
		{"all", "greedy", colAll, "ALL SITES, PER-LAYER GREEDY"},
	}
	dashOf := func(s series) int {
		switch s.search {
		case "global":
			return 8
		case "model":
			return 3
		}
		return 0
	}
	for _, s := range all {
		var pts []Point
		for _, p := range points {
			if p.Scope == s.scope && p.Search == s.search {
				pts = append(pts, p)
			}
		}
		if s.search == "greedy" && len(pts) > 0 && pts[0].Step > 0 {
			// The path starts at the global point it was started from (a step 0 point is
			// its own start: the all scope's copy of the MHSA scope's best).
			for _, p := range points {
				if p.Scope == s.scope && p.Search == "global" && p.Theta == pts[0].Theta {
					pts = append([]Point{p}, pts...)
					break
				}
			}
		}
		dash := dashOf(s)
		for j := 1; j < len(pts); j++ {
			line(img, px(xOf(pts[j-1])), py(100*pts[j-1].Accuracy), px(xOf(pts[j])), py(100*pts[j].Accuracy), s.col, 2, dash)
		}
		for _, p := range pts {
			marker(img, px(xOf(p)), py(100*p.Accuracy), s.col, s.search == "greedy")
		}
	}
	// Legend, bottom left, where the curves (which fall to the right) leave room.
	legendTop := r.Max.Y - 20 - (len(all)+2)*22 - 6
	fill(img, image.Rect(r.Min.X+8, legendTop, r.Min.X+400, r.Max.Y-14), color.RGBA{255, 255, 255, 255})
	for _, e := range []image.Rectangle{
		image.Rect(r.Min.X+8, legendTop, r.Min.X+400, legendTop+1), image.Rect(r.Min.X+8, r.Max.Y-15, r.Min.X+400, r.Max.Y-14),
		image.Rect(r.Min.X+8, legendTop, r.Min.X+9, r.Max.Y-14), image.Rect(r.Min.X+399, legendTop, r.Min.X+400, r.Max.Y-14),
	} {
		fill(img, e, colGrid)
	}
	for k, s := range all {
		ly := r.Max.Y - 20 - (len(all)+2-k)*22
		line(img, r.Min.X+16, ly+7, r.Min.X+52, ly+7, s.col, 2, dashOf(s))
		marker(img, r.Min.X+34, ly+7, s.col, s.search == "greedy")
		drawText(img, r.Min.X+62, ly, s.label, black, 2)
	}
	ly := r.Max.Y - 20 - 2*22
	line(img, r.Min.X+16, ly+7, r.Min.X+52, ly+7, colRef, 2, 0)
	drawText(img, r.Min.X+62, ly, "DENSE", black, 2)
	ly += 22
	line(img, r.Min.X+16, ly+7, r.Min.X+52, ly+7, colRef, 1, 6)
	drawText(img, r.Min.X+62, ly, fmt.Sprintf("DENSE - %.2g POINTS", 100*budget), black, 2)
}

// The drawing primitives live in internal/plot (bench/accuracy draws with them too).
var (
	fill     = plot.Fill
	line     = plot.Line
	marker   = plot.Marker
	drawText = plot.Text
	niceStep = plot.NiceStep
)
