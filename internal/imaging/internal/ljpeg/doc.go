// Package ljpeg is the Go standard library's JPEG decoder (image/jpeg from
// Go 1.26.8, BSD licence in LICENSE) with one change: the inverse DCT is
// libjpeg's accurate integer one (jidctint.c, JDCT_ISLOW, the default in
// libjpeg-turbo and so in PIL) instead of the MPEG-2 reference IDCT. The two
// differ by one level on a few per cent of pixels, and the int8 MobileNetV2
// scour ships quantises its input finely enough for that to move its logits
// and its top-5; with this IDCT, plus libjpeg's chroma upsampling and colour
// conversion in package imaging, decoded pixels match PIL's exactly.
//
// Differences from image/jpeg: package name, no encoder, no registration
// with image.RegisterFormat, idct.go, and image/draw in place of the standard
// library's internal imageutil for the YCCK conversion.
package ljpeg
