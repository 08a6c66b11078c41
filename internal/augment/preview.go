package augment

import (
	"image"
	"image/color"
	"image/draw"
	"math/rand/v2"
)

const previewGap = 2

// PreviewGrid shows what p does: one row per input image, its original in
// the first column and n augmented samples after it, on a grey background
// with cells as large as the largest input. The samples are drawn from a
// generator seeded with seed, so a preview can be reproduced. Rescale is
// not applied (a 1/255 rescale would show black); values are clipped to
// 0..255. p should be valid; inputs are used at full size, so callers should
// shrink large photos first.
func PreviewGrid(imgs []image.Image, p Params, seed int64, n int) image.Image {
	if len(imgs) == 0 {
		return image.NewRGBA(image.Rectangle{})
	}
	n = max(n, 0)
	cellW, cellH := 0, 0
	for _, im := range imgs {
		b := im.Bounds()
		cellW, cellH = max(cellW, b.Dx()), max(cellH, b.Dy())
	}
	cols, rows := n+1, len(imgs)
	grid := image.NewRGBA(image.Rect(0, 0,
		cols*cellW+(cols+1)*previewGap, rows*cellH+(rows+1)*previewGap))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.Gray{Y: 128}), image.Point{}, draw.Src)

	rng := rand.New(rand.NewPCG(uint64(seed), 0x5c0a2))
	for row, im := range imgs {
		h, w := im.Bounds().Dy(), im.Bounds().Dx()
		if h == 0 || w == 0 {
			continue
		}
		src := toHWC(im)
		dst := make([]float32, len(src))
		y := previewGap + row*(cellH+previewGap)
		paste(grid, src, h, w, previewGap, y)
		for k := range n {
			Apply(dst, src, h, w, 3, p.Random(rng, h, w), p.FillMode, p.Cval)
			paste(grid, dst, h, w, previewGap+(k+1)*(cellW+previewGap), y)
		}
	}
	return grid
}

// toHWC converts any image to RGB float32 in 0..255, dropping alpha.
func toHWC(im image.Image) []float32 {
	b := im.Bounds()
	out := make([]float32, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(im.At(x, y)).(color.NRGBA)
			out = append(out, float32(c.R), float32(c.G), float32(c.B))
		}
	}
	return out
}

func paste(dst *image.RGBA, px []float32, h, w, x0, y0 int) {
	for r := range h {
		row := dst.Pix[dst.PixOffset(x0, y0+r):]
		for q := range w {
			for k := range 3 {
				row[q*4+k] = to8(px[(r*w+q)*3+k])
			}
			row[q*4+3] = 255
		}
	}
}

func to8(v float32) uint8 {
	if v <= 0 {
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v + 0.5)
}
