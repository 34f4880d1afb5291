package connect

import "testing"

func TestEncodeStructuredBodies(t *testing.T) {
	json := Converter{Kind: ConvJSON, SchemasEnable: true}
	plain := Converter{Kind: ConvJSON}
	tests := []struct {
		c        Converter
		in, want string
	}{
		{json, `GET / HTTP/1.1`, `{"schema":{"type":"string","optional":false},"payload":"GET / HTTP/1.1"}`},
		{plain, `a "line"`, `"a \"line\""`},
		{json, `{"op":"c","after":{"id":1}}`, `{"schema":null,"payload":{"op":"c","after":{"id":1}}}`},
		{plain, `{"op":"c"}`, `{"op":"c"}`},
		{json, `{"schema":{"type":"int32"},"payload":5}`, `{"schema":{"type":"int32"},"payload":5}`},
		{json, `{not json`, `{"schema":{"type":"string","optional":false},"payload":"{not json"}`},
		{Converter{Kind: ConvString}, `{"a":1}`, `{"a":1}`},
	}
	for _, tt := range tests {
		if got := string(tt.c.Encode([]byte(tt.in))); got != tt.want {
			t.Errorf("%+v Encode(%s) = %s, want %s", tt.c, tt.in, got, tt.want)
		}
	}
}
