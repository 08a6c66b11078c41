// Package augment draws and applies random image augmentations with the
// semantics of Keras 3's legacy ImageDataGenerator
// (keras/src/legacy/preprocessing/image.py), so a model trained by scour sees
// the same kind of variation as one trained with
//
//	ImageDataGenerator(rotation_range=..., width_shift_range=..., ...)
//
// Images are HWC float32 slices (row-major, channels last), the layout Keras
// uses with channels_last. Params.Random draws a Transform the way
// get_random_transform does (same order of draws, same distributions; the
// numbers differ because the generator is Go's, not NumPy's), and Apply runs
// it the way apply_transform does: the inverse affine map sampled with
// scipy.ndimage.affine_transform(order=1) semantics, including scipy's
// treatment of each fill mode at the borders, then the channel shift, then
// the flips, then brightness. Golden outputs computed with numpy, scipy and
// Pillow (tools/kerasref/make_golden.py), on square and non-square images,
// pin this down: on amd64 the float64 arithmetic follows scipy's order and
// the tests demand agreement to the bit; elsewhere (where Go fuses
// multiply-adds) to 1e-4.
//
// Keras 3 behaviour that scour reproduces on purpose, because it is what
// Keras users get today (keras >= 2.9 and Keras 3):
//
//   - The affine matrix is built in (x, y) order and then conjugated with the
//     row/column swap, so tx, drawn from height_shift_range and scaled by the
//     image height, moves the image horizontally, and ty, from
//     width_shift_range scaled by the width, moves it vertically. On square
//     images this only swaps names; on others the shift fractions apply to
//     the other side.
//   - The pivot for rotation, shear and zoom is (w/2-0.5, h/2-0.5) in (row,
//     col) order: the true centre of square images, off-centre otherwise.
//   - A positive Theta turns the content counter-clockwise on screen; Zx
//     scales columns and Zy rows; Zx > 1 zooms out.
//   - channel_shift_range adds one intensity to every channel (not one per
//     channel, despite the name) and clips to the minimum and maximum of
//     the whole image after the affine step, so it can never brighten the
//     brightest pixel nor darken the darkest.
//   - Brightness goes through an 8-bit PIL image: values are truncated to
//     integers, multiplied by the factor in float32, truncated again and
//     clipped to 255. An image already inside [0, 255] (the usual case:
//     Keras applies rescale after augmentation) keeps its scale; one outside
//     it is min-max scaled to 0..255 for the enhancement and mapped back to
//     its own [min, max]. Only 256 levels survive either way. With four
//     channels the fourth is alpha and only quantised.
//   - 'nearest' clamps coordinates; 'reflect' is scipy's half-sample
//     symmetric reflection (d c b a | a b c d | d c b a), not 'mirror';
//     'constant' fills every output pixel whose source lies outside
//     [0, n-1] on either axis with cval, with no blending at the edge;
//     'wrap' is scipy's legacy wrap, whose period is n-1, not n (the first
//     and last rows are treated as the same place).
//
// Transform.Legacy112 (Params.Legacy112) gives the older keras-preprocessing
// 1.1.2 behaviour instead (standalone Keras 2.3/2.4, tf.keras up to 2.8): no
// row/column swap, so tx moves rows and a positive Theta turns the content
// clockwise; the pivot one pixel past the centre, at (h/2+0.5, w/2+0.5); and
// brightness that always stretches the image to 0..255 first (shifting up
// by -min when negative, dividing by the max) and returns it in 0..255.
// Its channel shift is Keras 3's. make_golden.py --check-installed runs the
// 1.1.2 cases through keras_preprocessing itself.
//
// Differences from Keras that remain: the random numbers come from
// math/rand/v2, not NumPy's Mersenne Twister; shift ranges are always
// floats, so a Keras integer range such as width_shift_range=2 (which picks
// from the integers -1, 0, 1) is here a uniform draw in [-2, 2] pixels, and
// list-valued shift ranges are not offered; the featurewise/samplewise
// normalisations, ZCA and interpolation orders other than 1 are not
// implemented.
//
// Nothing here holds global state: Params and Transform are values, the
// caller owns the random generator and the buffers, and Apply allocates
// nothing, so one goroutine per worker with its own *rand.Rand scales.
package augment
