package auth

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// Limits on an uploaded avatar, checked before any pixel is decoded.
const (
	// MaxAvatarBytes is the largest avatar file accepted, in bytes.
	MaxAvatarBytes = 1 << 20
	// MaxAvatarPixels is the largest width and the largest height, in
	// pixels, of an accepted avatar.
	MaxAvatarPixels = 1024
)

// maxJPEGScans bounds the work a JPEG may ask for. Go's decoder walks
// every block of the image once per scan, and a progressive scan can be
// a dozen bytes long, so 1 MiB of 1024×1024 JPEG could hold some 80,000
// scans and keep a CPU busy for most of a minute. Encoders write 1 scan
// (baseline), 3 (one per component) or about 10 (progressive); the
// allowance leaves room for an EXIF thumbnail, appended gain maps and
// stray marker-like bytes in metadata, which the count below includes.
const maxJPEGScans = 64

// avatarFormat is one image format an avatar may arrive in. The decoders
// are called directly after sniffing rather than through image.Decode, so
// the formats accepted here do not depend on what other packages in the
// program happen to register.
type avatarFormat struct {
	name         string
	decodeConfig func(io.Reader) (image.Config, error)
	decode       func(io.Reader) (image.Image, error)
}

var (
	avatarPNG  = &avatarFormat{"png", png.DecodeConfig, png.Decode}
	avatarJPEG = &avatarFormat{"jpeg", jpeg.DecodeConfig, jpeg.Decode}
	avatarGIF  = &avatarFormat{"gif", gifDecodeConfig, gif.Decode}
	avatarWebP = &avatarFormat{"webp", webp.DecodeConfig, webp.Decode}
)

// sniffAvatar names the format by its magic bytes; the file name and the
// client's Content-Type are never consulted. It returns nil for anything
// else.
func sniffAvatar(data []byte) *avatarFormat {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return avatarPNG
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return avatarJPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return avatarGIF
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP":
		return avatarWebP
	}
	return nil
}

// gifDecodeConfig is [gif.DecodeConfig], which reads no further than the
// screen descriptor, plus a look at the next byte, which must open an
// extension or an image. Without it any text after "GIF89a" reads as a
// screen thousands of pixels wide, and would be refused as too large
// rather than as not an image.
func gifDecodeConfig(r io.Reader) (image.Config, error) {
	br := bufio.NewReader(r) // gif reads exactly the header from an io.ByteReader
	cfg, err := gif.DecodeConfig(br)
	if err != nil {
		return image.Config{}, err
	}
	switch c, err := br.ReadByte(); {
	case err == io.EOF:
		return image.Config{}, io.ErrUnexpectedEOF
	case err != nil:
		return image.Config{}, err
	case c != '!' && c != ',':
		return image.Config{}, fmt.Errorf("gif: block type %#x after the screen descriptor", c)
	}
	return cfg, nil
}

// normalizeAvatar checks an uploaded avatar and rewrites it into a fresh
// file that carries nothing but pixels. It follows OWASP ASVS 5.0 V5 (File
// Handling): a size limit before parsing (5.2.1), the type taken from the
// content's magic bytes and confirmed by a full decode, then image
// re-writing (5.2.2), and a pixel limit against pixel floods (5.2.6).
//
// PNG, JPEG, GIF and WebP are accepted. A JPEG comes back as a JPEG at
// quality 90 ("image/jpeg"); everything else comes back as a PNG
// ("image/png"), an animated GIF as its first frame. Re-encoding drops all
// metadata: EXIF (including GPS position and orientation), XMP, ICC
// profiles, comments and text chunks, as well as anything appended after
// the image data.
//
// Input over [MaxAvatarBytes], wider or taller than [MaxAvatarPixels], or
// a JPEG of more than a few dozen scans returns an error wrapping
// [ErrImageTooLarge]; the dimensions are read from the header before the
// pixels are allocated, so a small file claiming a huge canvas costs
// nothing. Anything that is not a complete image in one of the four
// formats returns an error wrapping [ErrInvalidImage].
func normalizeAvatar(data []byte) (out []byte, contentType string, err error) {
	if len(data) > MaxAvatarBytes {
		return nil, "", fmt.Errorf("%w: %d bytes, the limit is %d", ErrImageTooLarge, len(data), MaxAvatarBytes)
	}
	f := sniffAvatar(data)
	if f == nil {
		return nil, "", fmt.Errorf("%w: unrecognised content", ErrInvalidImage)
	}

	cfg, err := recoverDecode(func() (image.Config, error) {
		return f.decodeConfig(bytes.NewReader(data))
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s header: %v", ErrInvalidImage, f.name, err)
	}
	if err := checkAvatarSize(f, cfg.Width, cfg.Height); err != nil {
		return nil, "", err
	}

	// In entropy-coded data a 0xff byte is always followed by 0x00 or a
	// restart marker, so every scan the decoder starts is an FF DA pair
	// in the input: counting pairs overestimates scans, never misses one.
	if f == avatarJPEG {
		if n := bytes.Count(data, []byte{0xff, 0xda}); n > maxJPEGScans {
			return nil, "", fmt.Errorf("%w: %d JPEG scans, the limit is %d", ErrImageTooLarge, n, maxJPEGScans)
		}
	}

	img, err := recoverDecode(func() (image.Image, error) {
		return f.decode(bytes.NewReader(data))
	})
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s: %v", ErrInvalidImage, f.name, err)
	}
	// The decoders already hold the pixels to the header's dimensions;
	// checking again costs nothing and does not rely on that.
	if err := checkAvatarSize(f, img.Bounds().Dx(), img.Bounds().Dy()); err != nil {
		return nil, "", err
	}

	var buf bytes.Buffer
	if f == avatarJPEG {
		contentType = "image/jpeg"
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		contentType = "image/png"
		err = png.Encode(&buf, img)
	}
	if err != nil {
		return nil, "", fmt.Errorf("auth: re-encoding %s avatar: %w", f.name, err)
	}
	return buf.Bytes(), contentType, nil
}

func checkAvatarSize(f *avatarFormat, width, height int) error {
	if width < 1 || height < 1 {
		return fmt.Errorf("%w: %s of %dx%d pixels", ErrInvalidImage, f.name, width, height)
	}
	if width > MaxAvatarPixels || height > MaxAvatarPixels {
		return fmt.Errorf("%w: %dx%d pixels, the limit is %dx%d",
			ErrImageTooLarge, width, height, MaxAvatarPixels, MaxAvatarPixels)
	}
	return nil
}

// recoverDecode runs a decoder over untrusted bytes and turns a panic into
// an error, so that a decoder bug reached by a hostile file fails one
// upload instead of the process.
func recoverDecode[T any](decode func() (T, error)) (v T, err error) {
	defer func() {
		if p := recover(); p != nil {
			var zero T
			v, err = zero, fmt.Errorf("decoder panic: %v", p)
		}
	}()
	return decode()
}
