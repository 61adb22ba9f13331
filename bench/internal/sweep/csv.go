package sweep

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/wakewordd/wakewordd/infer"
)

// WriteCSV writes one row per point: scope, search, step, theta, accuracy, loss in points,
// the MHSA and total reductions, each op site's reduction and the thresholds as the model
// metadata writes them.
func WriteCSV(path string, points []Point) error {
	fh, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(fh)
	head := []string{"scope", "search", "step", "theta", "accuracy", "loss_points", "mhsa_reduction", "total_reduction"}
	for s := range infer.NumOpSites {
		head = append(head, s.String()+"_reduction")
	}
	head = append(head, "thresholds")
	w.Write(head)
	for _, p := range points {
		th := ""
		if p.Scope != "dense" {
			b, _ := json.Marshal(p.Th)
			th = string(b)
		}
		row := []string{p.Scope, p.Search, strconv.Itoa(p.Step), strconv.FormatFloat(p.Theta, 'g', -1, 64),
			fmt.Sprintf("%.6f", p.Accuracy), fmt.Sprintf("%.3f", 100*p.Loss), fmt.Sprintf("%.6f", p.MHSARed), fmt.Sprintf("%.6f", p.TotalRed)}
		for s := range infer.NumOpSites {
			row = append(row, fmt.Sprintf("%.6f", p.SiteRed[s.String()]))
		}
		w.Write(append(row, th))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

// Replot redraws a sweep's plot from the CSV it wrote, for a model of architecture a (the
// title names it), without measuring anything.
func Replot(csvPath, pngPath string, budget float64, a infer.Arch) error {
	f, err := os.Open(csvPath)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return fmt.Errorf("%s: not a sweep CSV written by bench/sweep: %w", csvPath, err)
	}
	if len(rows) < 2 || len(rows[0]) < 8 || rows[0][0] != "scope" || rows[0][7] != "total_reduction" {
		return fmt.Errorf("%s: not a sweep CSV written by bench/sweep", csvPath)
	}
	var points []Point
	denseAcc := math.NaN()
	for i, r := range rows[1:] {
		var v [5]float64
		for j, col := range []int{2, 3, 4, 6, 7} {
			if v[j], err = strconv.ParseFloat(r[col], 64); err != nil {
				return fmt.Errorf("%s:%d: column %s: %w", csvPath, i+2, rows[0][col], err)
			}
		}
		p := Point{Scope: r[0], Search: r[1], Step: int(v[0]), Theta: v[1], Accuracy: v[2], MHSARed: v[3], TotalRed: v[4]}
		if p.Scope == "dense" {
			denseAcc = p.Accuracy
		}
		points = append(points, p)
	}
	if math.IsNaN(denseAcc) {
		return fmt.Errorf("%s: no dense row", csvPath)
	}
	return WritePlot(pngPath, points, denseAcc, budget, a)
}
