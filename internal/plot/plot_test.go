package plot

import (
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestNiceStep(t *testing.T) {
	for raw, want := range map[float64]float64{0.7: 1, 1: 1, 1.2: 2, 3: 5, 7: 10, 0.013: 0.02, 45: 50, 0: 1, -3: 1} {
		if got := NiceStep(raw); got != want {
			t.Errorf("NiceStep(%v) = %v, want %v", raw, got, want)
		}
	}
}

func TestDrawing(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 60, 30))
	red := color.RGBA{255, 0, 0, 255}
	Line(img, 0, 0, 59, 29, red, 1, 0)
	if img.RGBAAt(0, 0) != red || img.RGBAAt(59, 29) != red {
		t.Error("a line misses its end points")
	}
	// Drawing past the edges is clipped, not a panic.
	Line(img, -10, 5, 100, 5, red, 3, 4)
	Marker(img, 59, 29, red, false)
	Text(img, 50, 25, "AB", red, 2)
	if w := TextWidth("abc", 2); w != 36 {
		t.Errorf("TextWidth = %d, want 36", w)
	}
	blank := image.NewRGBA(image.Rect(0, 0, 20, 10))
	Text(blank, 0, 0, "1", red, 1)
	if blank.RGBAAt(2, 0) != red || blank.RGBAAt(0, 0) == red {
		t.Error("glyph '1' not drawn as its bitmap")
	}
	path := filepath.Join(t.TempDir(), "x.png")
	if err := WritePNG(path, img); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Fatal(err)
	}
}
