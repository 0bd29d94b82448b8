package kapsosim

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math/rand/v2"
)

// The files a person sends: small real ones of each kind, made in code
// (deterministic, so a test knows their bytes), and files of any size
// generated from a seed as they are read, for the bench and the limits.

// Media kinds a person can send, with what Meta says of each.
var mediaKinds = map[string]struct {
	mime     string
	filename string // documents only
	limit    int64  // Meta's most bytes for the type
}{
	"image":    {mime: "image/png", limit: 5 << 20},
	"audio":    {mime: "audio/ogg; codecs=opus", limit: 16 << 20}, // a voice note
	"video":    {mime: "video/mp4", limit: 16 << 20},
	"document": {mime: "application/pdf", filename: "pedido.pdf", limit: 100 << 20},
	"sticker":  {mime: "image/webp", limit: 500 << 10},
}

// smallFile is the kind's built-in file.
func smallFile(kind string) []byte {
	switch kind {
	case "image":
		return pngFile()
	case "audio":
		return opusFile()
	case "video":
		return mp4File()
	case "document":
		return pdfFile()
	case "sticker":
		return webpFile()
	}
	return nil
}

// pngFile is a 16×16 gradient.
func pngFile() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for y := range 16 {
		for x := range 16 {
			img.Set(x, y, color.RGBA{R: uint8(x * 16), G: uint8(y * 16), B: 0x80, A: 0xff})
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img) // a bytes.Buffer does not fail
	return b.Bytes()
}

// pdfFile is a one-page PDF saying hello, with a correct cross-reference
// table.
func pdfFile() []byte {
	stream := "BT /F1 24 Tf 72 720 Td (Pedido 42) Tj ET"
	objects := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(stream), stream),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objects))
	for i, o := range objects {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objects)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objects)+1, xref)
	return b.Bytes()
}

// mp4File is the boxes an MP4 opens with: its file type (ISO base media,
// MP4 v2 compatible) and an empty media data box, the rest of a generated
// video following as the media data.
func mp4File() []byte {
	b := binary.BigEndian.AppendUint32(nil, 24)
	b = append(b, "ftypisom"...)
	b = binary.BigEndian.AppendUint32(b, 0x200)
	b = append(b, "isommp42"...)
	b = binary.BigEndian.AppendUint32(b, 8)
	return append(b, "mdat"...)
}

// webpFile is a 1×1 lossless WebP.
func webpFile() []byte {
	b, _ := base64.StdEncoding.DecodeString("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==")
	return b
}

// opusFile is one second of silence as Ogg Opus (RFC 7845): the OpusHead
// and OpusTags pages, then 50 silent 20 ms frames.
func opusFile() []byte {
	const serial = 0x4b617073 // "Kaps"
	head := []byte("OpusHead")
	head = append(head, 1, 1) // version, one channel
	head = binary.LittleEndian.AppendUint16(head, 312)
	head = binary.LittleEndian.AppendUint32(head, 48000)
	head = append(head, 0, 0, 0) // output gain, mapping family 0
	vendor := "kapsosim"
	tags := []byte("OpusTags")
	tags = binary.LittleEndian.AppendUint32(tags, uint32(len(vendor)))
	tags = append(tags, vendor...)
	tags = binary.LittleEndian.AppendUint32(tags, 0)
	var frames [][]byte
	for range 50 {
		frames = append(frames, []byte{0xf8, 0xff, 0xfe}) // CELT, 20 ms, silence
	}
	var b bytes.Buffer
	b.Write(oggPage(0x02, 0, serial, 0, [][]byte{head}))
	b.Write(oggPage(0, 0, serial, 1, [][]byte{tags}))
	b.Write(oggPage(0x04, 312+48000, serial, 2, frames))
	return b.Bytes()
}

// oggPage is one Ogg page of whole packets, each under 255 bytes.
func oggPage(flags byte, granule uint64, serial, seq uint32, packets [][]byte) []byte {
	p := []byte("OggS")
	p = append(p, 0, flags)
	p = binary.LittleEndian.AppendUint64(p, granule)
	p = binary.LittleEndian.AppendUint32(p, serial)
	p = binary.LittleEndian.AppendUint32(p, seq)
	p = append(p, 0, 0, 0, 0, byte(len(packets)))
	for _, pk := range packets {
		p = append(p, byte(len(pk)))
	}
	for _, pk := range packets {
		p = append(p, pk...)
	}
	binary.LittleEndian.PutUint32(p[22:], oggCRC(p))
	return p
}

// oggCRC is Ogg's CRC-32: polynomial 0x04c11db7, not reflected, from 0.
func oggCRC(b []byte) uint32 {
	var crc uint32
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// generated is a file of size bytes: the kind's small file's first bytes
// (so it looks like one), then bytes drawn from seed. It is made as it is
// read, never held whole.
type generated struct {
	prefix []byte
	size   int64
	seed   uint64
}

// open reads the file from its start.
func (g generated) open() io.Reader {
	prefix := g.prefix[:min(int64(len(g.prefix)), g.size)]
	rest := io.LimitReader(&seeded{rng: rand.New(rand.NewPCG(g.seed, g.seed^0x5eed))}, g.size-int64(len(prefix)))
	return io.MultiReader(bytes.NewReader(prefix), rest)
}

// seeded reads the bytes of rng's numbers, eight to a number, the same
// however the reads are cut.
type seeded struct {
	rng  *rand.Rand
	word [8]byte
	left int // bytes of word not read yet
}

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		if s.left == 0 {
			binary.LittleEndian.PutUint64(s.word[:], s.rng.Uint64())
			s.left = 8
		}
		p[i] = s.word[8-s.left]
		s.left--
	}
	return len(p), nil
}
