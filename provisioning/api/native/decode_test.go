package native

import "testing"

// accountBody is a full account create body, the decoder's common case.
const accountBody = `{"domain_id":42,"domain":"a.example.com","username":"1001","secret":"s3cr3t-Pass",` +
	`"caller_id_name":"Alice Émilie","caller_id_number":"+15551234567","description":"front desk, 2nd floor","user_id":7}`

// BenchmarkDecodeAccount decodes an account body as a create does.
func BenchmarkDecodeAccount(b *testing.B) {
	body := []byte(accountBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := decodeJSON(body, new(accountIn)); err != nil {
			b.Fatal(err)
		}
	}
}
