package cleanbench

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"math/rand/v2"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Synthetic pages stand for the homonym clusters a real scrape brings: the
// query "B-1" returns vitamin charts, language-level book covers and maths
// pages, dense groups of one wrong thing. Rendering them here keeps the
// benchmark free of third-party pictures and lets it plant any number.

// pageKinds are the kinds of page renderPage draws.
var pageKinds = []string{"text", "bar chart", "line chart", "table"}

// renderPage draws page i of a kind, varied by seed: different words,
// values, colours and sizes, so that the pages are a cluster of look-alikes
// and not copies (the duplicate check would take copies).
func renderPage(kind string, i int) image.Image {
	rng := rand.New(rand.NewPCG(uint64(i)+1, uint64(len(kind))*7919))
	w, h := 480+rng.IntN(160), 360+rng.IntN(300)
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	paper := color.RGBA{uint8(235 + rng.IntN(20)), uint8(235 + rng.IntN(20)), uint8(225 + rng.IntN(30)), 255}
	draw.Draw(img, img.Bounds(), &image.Uniform{paper}, image.Point{}, draw.Src)
	ink := color.RGBA{uint8(rng.IntN(60)), uint8(rng.IntN(60)), uint8(rng.IntN(90)), 255}
	accent := color.RGBA{uint8(40 + rng.IntN(200)), uint8(40 + rng.IntN(200)), uint8(40 + rng.IntN(200)), 255}
	title := fmt.Sprintf("%s %d.%d", words[rng.IntN(len(words))], 1+rng.IntN(9), rng.IntN(20))
	text(img, 20, 28, title, ink)
	switch kind {
	case "text":
		for y := 60; y < h-20; y += 16 {
			line := ""
			for len(line) < (w-40)/7-10 {
				line += words[rng.IntN(len(words))] + " "
			}
			text(img, 20, y, line, ink)
		}
	case "bar chart":
		axes(img, w, h, ink)
		n := 4 + rng.IntN(8)
		bw := (w - 100) / n
		for b := range n {
			bh := 20 + rng.IntN(h-140)
			fill(img, image.Rect(70+b*bw+4, h-50-bh, 70+(b+1)*bw-4, h-50), accent)
			text(img, 70+b*bw+4, h-32, words[rng.IntN(len(words))][:3], ink)
		}
	case "line chart":
		axes(img, w, h, ink)
		for s := range 1 + rng.IntN(3) {
			c := color.RGBA{accent.G, accent.B + uint8(60*s), accent.R, 255}
			y := float64(h/2 + rng.IntN(h/4))
			px, py := 62, int(y)
			for x := 62; x < w-30; x += 12 {
				y = math.Max(60, math.Min(float64(h-55), y+rng.NormFloat64()*14))
				segment(img, px, py, x, int(y), c)
				px, py = x, int(y)
			}
		}
	case "table":
		cols, rows := 3+rng.IntN(3), 6+rng.IntN(10)
		cw, rh := (w-40)/cols, min(22, (h-70)/rows)
		for r := range rows + 1 {
			fill(img, image.Rect(20, 50+r*rh, 20+cols*cw, 51+r*rh), ink)
		}
		for c := range cols + 1 {
			fill(img, image.Rect(20+c*cw, 50, 21+c*cw, 50+rows*rh), ink)
		}
		fill(img, image.Rect(21, 51, 20+cols*cw, 50+rh), accent)
		for r := range rows {
			for c := range cols {
				cell := words[rng.IntN(len(words))]
				if c > 0 {
					cell = fmt.Sprintf("%d.%d mg", rng.IntN(100), rng.IntN(10))
				}
				text(img, 24+c*cw, 50+r*rh+rh-6, cell, ink)
			}
		}
	}
	return img
}

var words = []string{"vitamin", "thiamine", "level", "grammar", "lineage", "cases", "theorem", "proof", "set", "union",
	"logarithm", "table", "daily", "intake", "exam", "reading", "listening", "variant", "week", "total", "lemma", "answer"}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

func axes(img *image.RGBA, w, h int, c color.Color) {
	fill(img, image.Rect(60, 50, 62, h-48), c)
	fill(img, image.Rect(60, h-50, w-20, h-48), c)
}

// segment draws a 2-pixel line.
func segment(img *image.RGBA, x0, y0, x1, y1 int, c color.Color) {
	n := max(abs(x1-x0), abs(y1-y0), 1)
	for k := 0; k <= n; k++ {
		x, y := x0+(x1-x0)*k/n, y0+(y1-y0)*k/n
		fill(img, image.Rect(x, y, x+2, y+2), c)
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
