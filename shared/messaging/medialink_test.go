package messaging

import (
	"errors"
	"testing"

	"github.com/kapso-bridge/kapso-bridge/shared/errs"
)

// Meta downloads a media link from its own servers: a link to a name or an
// address that is not public (loopback, private, link-local, metadata
// services...) is refused, in every notation a URL parser reads as one.
func TestOutboundMediaLink(t *testing.T) {
	refused := []string{
		"http://example.com/a.jpg",
		"ftp://example.com/a.jpg",
		"//example.com/a.jpg",
		"https:///a.jpg",
		"https://user:pass@example.com/a.jpg",
		"https://example.com\\@127.0.0.1/a.jpg",
		// names that are not public
		"https://localhost/a.jpg",
		"https://LOCALHOST./a.jpg",
		"https://localhost:8443/a.jpg",
		"https://media.localhost/a.jpg",
		"https://a.b.LocalHost./a.jpg",
		"https://intranet/a.jpg",
		"https://exa_mple/a.jpg",
		"https://a..example.com/a.jpg",
		"https://xn--bcher-kva..example/a.jpg",
		"https://bücher.example/a.jpg",
		"https://１２７.０.０.１/a.jpg",
		"https://example.com%2F@x/a.jpg",
		// IPv4, dotted
		"https://127.0.0.1/a.jpg",
		"https://127.0.0.1:443/a.jpg",
		"https://127.0.0.1./a.jpg",
		"https://127.255.255.254/a.jpg",
		"https://10.0.0.1/a.jpg",
		"https://172.16.0.1/a.jpg",
		"https://172.31.255.255/a.jpg",
		"https://192.168.1.1/a.jpg",
		"https://169.254.169.254/latest/meta-data/",
		"https://100.64.0.1/a.jpg",
		"https://100.127.255.254/a.jpg",
		"https://0.0.0.0/a.jpg",
		"https://0.1.2.3/a.jpg",
		"https://224.0.0.1/a.jpg",
		"https://239.255.255.250/a.jpg",
		"https://240.0.0.1/a.jpg",
		"https://255.255.255.255/a.jpg",
		"https://198.18.0.1/a.jpg",
		"https://192.0.0.8/a.jpg",
		// IPv4, as browsers and inet_aton read it
		"https://2130706433/a.jpg",
		"https://0177.0.0.1/a.jpg",
		"https://0x7f.1/a.jpg",
		"https://0X7F.0.0.1/a.jpg",
		"https://127.1/a.jpg",
		"https://127.0.1/a.jpg",
		"https://0x7f000001/a.jpg",
		"https://017700000001/a.jpg",
		"https://0/a.jpg",
		"https://0xa9fea9fe/a.jpg",
		"https://2852039166/a.jpg",
		"https://10.1/a.jpg",
		"https://192.168.257/a.jpg",
		"https://0300.0250.1.1/a.jpg",
		"https://%31%32%37.0.0.1/a.jpg",
		"https://0x7f.0x0.0x0.0x1/a.jpg",
		"https://127.000.000.001/a.jpg",
		// hosts that end in a number but are no address
		"https://1.2.3.4.5/a.jpg",
		"https://256.0.0.1/a.jpg",
		"https://4294967296/a.jpg",
		"https://example.123/a.jpg",
		"https://0x/a.jpg",
		"https://08.0.0.1/a.jpg",
		// IPv6
		"https://[::1]/a.jpg",
		"https://[::]/a.jpg",
		"https://[0:0:0:0:0:0:0:1]/a.jpg",
		"https://[fe80::1]/a.jpg",
		"https://[fe80::1%25eth0]/a.jpg",
		"https://[fc00::1]/a.jpg",
		"https://[fd12:3456:789a::1]/a.jpg",
		"https://[ff02::1]/a.jpg",
		"https://[fec0::1]/a.jpg",
		"https://[2001:db8::1]/a.jpg",
		"https://[::ffff:127.0.0.1]/a.jpg",
		"https://[::ffff:7f00:1]/a.jpg",
		"https://[::ffff:169.254.169.254]/a.jpg",
		"https://[::ffff:10.0.0.1]/a.jpg",
		"https://[::ffff:0.0.0.0]/a.jpg",
		"https://[::127.0.0.1]/a.jpg",
		"https://[64:ff9b::a00:1]/a.jpg",
		"https://[64:ff9b::169.254.169.254]/a.jpg",
		"https://[64:ff9b:1::1]/a.jpg",
		"https://[2002:a9fe:a9fe::1]/a.jpg",
	}
	for _, link := range refused {
		for _, kind := range []string{OutTypeImage, OutTypeDocument, OutTypeAudio, OutTypeVideo} {
			r := OutboundRequest{To: "16505551234", Type: kind}
			m := &OutMedia{Link: link}
			switch kind {
			case OutTypeImage:
				r.Image = m
			case OutTypeDocument:
				r.Document = m
			case OutTypeAudio:
				r.Audio = m
			default:
				r.Video = m
			}
			var fe *errs.FieldError
			if err := r.Validate(); !errors.As(err, &fe) || fe.Field != kind+".link" || fe.Message == "" {
				t.Errorf("%s link %q: %v, want an error naming %s.link", kind, link, err, kind)
			}
		}
	}
	for _, link := range []string{
		"https://example.com/a.jpg",
		"https://EXAMPLE.com./a.jpg?x=1&y=2#f",
		"https://cdn.example.com:8443/v.mp4",
		"https://my_bucket.s3.amazonaws.com/a.png",
		"https://xn--bcher-kva.example/a.jpg",
		"https://1.1.1.1/a.jpg",
		"https://8.8.8.8:443/a.jpg",
		"https://93.184.216.34/a.jpg",
		"https://100.63.255.255/a.jpg",
		"https://100.128.0.1/a.jpg",
		"https://172.32.0.1/a.jpg",
		"https://[2606:4700:4700::1111]/a.jpg",
		"https://[::ffff:8.8.8.8]/a.jpg",
		"https://a-b.example.com/%7Euser/a.jpg",
		"https://127.0.0.1.example.com/a.jpg",
	} {
		r := OutboundRequest{To: "16505551234", Type: OutTypeImage, OutContent: OutContent{Image: &OutMedia{Link: link}}}
		if err := r.Validate(); err != nil {
			t.Errorf("link %q refused: %v", link, err)
		}
	}
}

// A template's header media is fetched by Meta too: its link is held to the
// same rule, named by its path in the components.
func TestOutboundTemplateMediaLink(t *testing.T) {
	template := func(link string) string {
		return `{"to":"16505551234","type":"template","template":{"name":"order","language":{"code":"en"},"components":[` +
			`{"type":"body","parameters":[{"type":"text","text":"1"}]},` +
			`{"type":"header","parameters":[{"type":"image","image":{"link":"` + link + `"}}]}]}}`
	}
	for _, link := range []string{"https://169.254.169.254/latest/meta-data/", "https://0x7f.1/a.jpg", "http://example.com/a.jpg", "https://localhost/a.jpg"} {
		err := decodeSend(t, template(link)).Validate()
		var fe *errs.FieldError
		if !errors.As(err, &fe) || fe.Field != "template.components[1].parameters[0].image.link" {
			t.Errorf("%s: %v", link, err)
		}
	}
	if err := decodeSend(t, template("https://cdn.example.com/a.jpg")).Validate(); err != nil {
		t.Errorf("a public link: %v", err)
	}
}
