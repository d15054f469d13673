package postgres

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	ok := Config{URL: "postgres://runnel@localhost:5432/shop", Table: "orders"}
	tests := []struct {
		name string
		edit func(c *Config)
		errs []string // each must be in the error; none: valid
	}{
		{name: "minimal", edit: func(c *Config) {}},
		{name: "key=value url", edit: func(c *Config) { c.URL = "host=db user=runnel dbname=shop" }},
		{name: "full", edit: func(c *Config) {
			c.Table, c.Mode, c.Key, c.DeleteOnTombstone = "sales.orders", ModeUpsert, []string{"id"}, true
			c.Columns = []Column{{Name: "id", From: "key.id", Type: "bigint"}, {Name: "doc", From: "value", Type: "jsonb"}, {Name: "at", From: "time", Type: "timestamptz"}}
			c.AutoCreate, c.OffsetsTable, c.BatchRows = true, "ops.offsets", 100
		}},
		{name: "empty", edit: func(c *Config) { *c = Config{} }, errs: []string{"postgres sink: url: required", "postgres sink: table: required"}},
		{name: "bad url", edit: func(c *Config) { c.URL = "postgres://u:secret@h:notaport/db" }, errs: []string{"postgres sink: url: "}},
		{name: "table parts", edit: func(c *Config) { c.Table = "a.b.c" }, errs: []string{`table: "a.b.c": want "name" or "schema.name"`}},
		{name: "table empty part", edit: func(c *Config) { c.Table = "a." }, errs: []string{`table: "a.": empty name`}},
		{name: "table too long", edit: func(c *Config) { c.Table = strings.Repeat("t", 64) }, errs: []string{"table: ", "longer than 63 bytes"}},
		{name: "mode", edit: func(c *Config) { c.Mode = "merge" }, errs: []string{`mode: unknown mode "merge"`}},
		{name: "upsert without key", edit: func(c *Config) { c.Mode = ModeUpsert }, errs: []string{`key: required with mode "upsert"`}},
		{name: "tombstones without key", edit: func(c *Config) { c.DeleteOnTombstone = true }, errs: []string{"key: required with delete_on_tombstone"}},
		{name: "key twice", edit: func(c *Config) { c.Key = []string{"id", "id"} }, errs: []string{`key: "id" is named twice`}},
		{name: "key empty", edit: func(c *Config) { c.Key = []string{""} }, errs: []string{"key: empty column name"}},
		{name: "key not a column", edit: func(c *Config) { c.Key, c.Columns = []string{"id"}, []Column{{Name: "x"}} }, errs: []string{`key: "id" is not one of the columns`}},
		{name: "column without name", edit: func(c *Config) { c.Columns = []Column{{From: "value.x"}} }, errs: []string{"columns: column 0: name: required"}},
		{name: "column twice", edit: func(c *Config) { c.Columns = []Column{{Name: "x"}, {Name: "x"}} }, errs: []string{`columns: "x" is named twice`}},
		{name: "column from", edit: func(c *Config) {
			c.Columns = []Column{{Name: "a", From: "header.x"}, {Name: "b", From: "time.x"}, {Name: "c", From: "value..x"}}
		}, errs: []string{`columns: "a": from: "header.x": want value`, `columns: "b": from: "time.x": time has no fields`, `columns: "c": from: "value..x": empty field name`}},
		{name: "auto_create without columns", edit: func(c *Config) { c.AutoCreate = true }, errs: []string{"columns: required with auto_create"}},
		{name: "auto_create without type", edit: func(c *Config) { c.AutoCreate, c.Columns = true, []Column{{Name: "x"}} }, errs: []string{`columns: "x": type: required with auto_create`}},
		{name: "type with semicolon", edit: func(c *Config) { c.Columns = []Column{{Name: "x", Type: "int; DROP TABLE t"}} }, errs: []string{`columns: "x": type: "int; DROP TABLE t" is not a type`}},
		{name: "offsets table", edit: func(c *Config) { c.OffsetsTable = strings.Repeat("o", 60) }, errs: []string{"offsets_table: ", "longer than 56 bytes"}},
		{name: "batch rows", edit: func(c *Config) { c.BatchRows = -1 }, errs: []string{"batch_rows: -1 must not be negative"}},
		{name: "all at once", edit: func(c *Config) {
			*c = Config{Mode: "x", BatchRows: -5, OffsetsTable: "a.b.c"}
		}, errs: []string{"url: required", "table: required", "mode: unknown", "offsets_table: ", "batch_rows: "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if len(tt.errs) == 0 {
				requireNoError(t, err)
				return
			}
			requireErrorContains(t, err, tt.errs...)
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error %q shows the password", err)
			}
		})
	}
}

func TestNewNeedsConsumer(t *testing.T) {
	t.Parallel()
	_, err := New(Config{URL: "postgres://localhost/db", Table: "t"})
	requireErrorContains(t, err, "postgres sink: consumer: required")
	_, err = New(Config{Table: "t"})
	requireErrorContains(t, err, "url: required", "consumer: required")
}
