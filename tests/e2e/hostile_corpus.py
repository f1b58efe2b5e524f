"""The hostile requests, by family, each with the refusal it must get."""

from __future__ import annotations

import base64
import gzip

from tests.e2e.hostile import (
    ATTACH,
    BOUNDARY,
    FORM,
    HOLA,
    HOLA_QUERY,
    JSON,
    MIB,
    MULTIPART,
    OVER,
    PDF,
    Case,
    field,
    file_part,
    filler,
    members,
    multipart,
    post_form,
    post_json,
    post_multipart,
    post_query,
    read,
    refused_by_parser,
    upload,
    with_base64,
)

TOO_LARGE = "exceeds the limit"
DIFFER = "was given more than once with different values"
NOT_INTEGER = "must be an integer"
NOT_OPTION = "messageOptions must be one of"
DOTS = "nothing but dots"
BIG_PDF_SIZE = 25 * MIB + 1
FILE_HEAD = (
    b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; '
    b'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\n'
)
# A request that the server wrongly accepts stores a message and so closes its
# order to the next one: the cases most at risk have a replied order each.


def big_pdf() -> bytes:
    return PDF + bytes(BIG_PDF_SIZE - len(PDF))


def oversize() -> list[Case]:
    declared = (b"Content-Length: %d" % OVER,)
    exact = b"Content-Length: %d" % len(HOLA)
    message = b'{"messageOptions": 4, "message": "'
    return [
        post_json(
            "json-declared-over-the-limit",
            lambda: filler(OVER, message),
            TOO_LARGE,
            status=413,
            headers=declared,
            framing="as-is",
        ),
        Case(
            "multipart-declared-over-the-limit",
            413,
            TOO_LARGE,
            route=ATTACH,
            content_type=MULTIPART,
            headers=declared,
            body=lambda: filler(OVER, FILE_HEAD),
            framing="as-is",
        ),
        post_json(
            "json-chunked-over-the-limit",
            lambda: filler(OVER, message),
            TOO_LARGE,
            status=413,
            framing="chunked",
        ),
        Case(
            "form-chunked-over-the-limit",
            413,
            TOO_LARGE,
            content_type=FORM,
            body=lambda: filler(OVER, b"messageOptions=4&message="),
            framing="chunked",
        ),
        Case(
            "multipart-chunked-over-the-limit",
            413,
            TOO_LARGE,
            route=ATTACH,
            content_type=MULTIPART,
            body=lambda: filler(OVER, FILE_HEAD),
            framing="chunked",
        ),
        post_json(
            "over-the-limit-with-an-idempotency-key",
            lambda: filler(OVER, message),
            TOO_LARGE,
            status=413,
            headers=(*declared, b"Idempotency-Key: hostile-413"),
            framing="as-is",
        ),
        post_multipart(
            "file-part-of-25-mib-and-a-byte",
            lambda: upload(b"big.pdf", big_pdf()),
            "exceeds 26214400 bytes",
            route=ATTACH,
        ),
        post_json(
            "base64-of-25-mib-and-a-byte",
            lambda: with_base64(b'"big"', content=big_pdf()),
            "exceeds 26214400 bytes",
            route=ATTACH,
        ),
        post_json(
            # With Connection: close the parser ignores the bytes after the
            # declared length, so the body is cut short, not smuggled.
            "length-shorter-than-the-body",
            HOLA,
            "not valid JSON",
            headers=(b"Content-Length: 20",),
            framing="as-is",
        ),
        refused_by_parser(
            "two-different-lengths",
            content_type=JSON,
            headers=(exact, b"Content-Length: 20"),
            body=HOLA,
            framing="as-is",
        ),
        refused_by_parser(
            "length-and-chunked-together",
            content_type=JSON,
            headers=(exact, b"Transfer-Encoding: chunked"),
            body=HOLA,
            framing="as-is",
        ),
        refused_by_parser(
            "length-of-thirty-digits",
            content_type=JSON,
            headers=(b"Content-Length: 1" + b"0" * 29,),
            body=HOLA,
            framing="as-is",
        ),
        refused_by_parser(
            "negative-length",
            content_type=JSON,
            headers=(b"Content-Length: -1",),
            body=HOLA,
            framing="as-is",
        ),
        post_query(
            "idempotency-key-of-256-characters",
            HOLA_QUERY,
            "Idempotency-Key must have 1 to 255",
            headers=(b"Idempotency-Key: " + b"k" * 256,),
        ),
    ]


def invalid_utf8() -> list[Case]:
    manana = b'{"messageOptions": 4, "message": "Ma\xf1ana"}'
    bad_json = "The JSON body is not valid UTF-8"
    bad_form = "The form body is not valid UTF-8"
    base64_only = b'{"messageOptions": 4, "message": "Adjunto", "fileBase64": "%s"}'
    return [
        post_json("json-latin-1-byte", manana, bad_json),
        post_json("json-overlong-slash", b'{"message": "a\xc0\xafb"}', bad_json),
        Case(
            "json-declared-latin-1",
            400,
            bad_json,
            content_type=JSON + b"; charset=iso-8859-1",
            body=manana,
        ),
        post_json(
            "json-lone-surrogate-in-the-message",
            b'{"messageOptions": 4, "message": "a\\ud800b"}',
            "message is not valid UTF-8",
        ),
        post_json(
            "json-lone-surrogate-in-the-document-name",
            with_base64(b'"fac\\udc80tura"'),
            "documentName is not valid UTF-8",
            route=ATTACH,
        ),
        post_query(
            "query-escaped-message",
            b"messageOptions=4&message=Ma%F1ana",
            "message is not valid UTF-8",
        ),
        post_query("query-escaped-option", b"messageOptions=%C0%B4", NOT_OPTION),
        post_query("query-escaped-account", HOLA_QUERY, NOT_INTEGER, account=b"1%FF"),
        post_json(
            "query-escaped-document-name",
            base64_only % base64.b64encode(PDF),
            "not valid UTF-8",
            route=b"/v2/orders/5/messages",
            query=b"documentName=fac%F1tura&documentExtension=pdf",
        ),
        refused_by_parser("query-raw-byte", query=b"message=Ma\xf1ana"),
        post_query(
            "path-escaped-order",
            HOLA_QUERY,
            "orderId " + NOT_INTEGER,
            route=b"/v2/orders/1%FF/messages",
        ),
        refused_by_parser("path-raw-byte", route=b"/v2/orders/1\xff/messages"),
        post_form("form-escaped", b"messageOptions=4&message=Ma%F1ana", bad_form),
        post_form("form-raw-byte", b"messageOptions=4&message=Ma\xf1ana", bad_form),
        post_multipart(
            "multipart-field",
            multipart(field(b"messageOptions", b"4"), field(b"message", b"Ma\xf1ana")),
            "The form field message is not valid UTF-8",
        ),
        post_multipart(
            "multipart-file-name",
            upload(b"fac\xf1tura.pdf"),
            "not valid UTF-8",
            route=b"/v2/orders/4/messages",
        ),
    ]


def hostile_json() -> list[Case]:
    digits = b"1" + b"0" * 400
    with_order = b'{"messageOptions": 4, "message": "Hola", "orderId": %s}'
    deep = b"[" * 100_000 + b"]" * 100_000
    return [
        post_json("arrays-100000-deep", b"[" * 100_000, "not valid JSON"),
        post_json("objects-100000-deep", b'{"a": ' * 100_000, "not valid JSON"),
        post_json(
            "a-deep-array-beside-a-valid-message",
            HOLA[:-1] + b', "x": ' + deep + b"}",
            "not valid JSON",
        ),
        post_json(
            "100000-unknown-keys",
            lambda: members(lambda i: b'"k%d": %d' % (i, i), 100_000),
            "messageOptions is required",
        ),
        post_json(
            "100000-options-that-differ",
            lambda: members(lambda i: b'"messageOptions": %d' % (i % 5 + 1), 100_000),
            "messageOptions " + DIFFER,
        ),
        post_json("option-nan", b'{"messageOptions": NaN}', NOT_OPTION),
        post_json("order-infinity", with_order % b"Infinity", NOT_INTEGER),
        post_json(
            "account-minus-infinity",
            b'{"messageOptions": 4, "message": "Hola", "accountId": -Infinity}',
            "accountId " + NOT_INTEGER,
        ),
        post_json("order-of-401-digits", with_order % digits, NOT_INTEGER),
        post_json("order-of-5001-digits", with_order % (b"1" * 5001), "not valid JSON"),
        post_json(
            "option-of-401-digits", b'{"messageOptions": %s}' % digits, NOT_OPTION
        ),
        post_json("option-as-a-float", b'{"messageOptions": 4.0}', NOT_OPTION),
        post_json("order-as-a-float", with_order % b"1e0", NOT_INTEGER),
        post_json("option-zero", b'{"messageOptions": 0}', NOT_OPTION),
        post_json("option-negative", b'{"messageOptions": -4}', NOT_OPTION),
        post_json("option-true", b'{"messageOptions": true}', NOT_OPTION),
        post_json("an-array", b"[" + HOLA + b"]", "must be an object"),
        post_json("null", b"null", "must be an object"),
        post_json("trailing-data", HOLA + b" {}", "not valid JSON"),
        post_query("account-of-401-digits", HOLA_QUERY, NOT_INTEGER, account=digits),
        post_query("account-as-a-float", HOLA_QUERY, NOT_INTEGER, account=b"1.0"),
        post_query("account-zero", HOLA_QUERY, "not linked", status=403, account=b"0"),
        post_query(
            "account-negative", HOLA_QUERY, "not linked", status=403, account=b"-1"
        ),
        post_query(
            "path-order-of-401-digits",
            HOLA_QUERY,
            NOT_INTEGER,
            route=b"/v2/orders/%s/messages" % digits,
        ),
        post_query(
            "path-order-as-a-float",
            HOLA_QUERY,
            NOT_INTEGER,
            route=b"/v2/orders/1.0/messages",
        ),
        post_query(
            "path-order-zero",
            HOLA_QUERY,
            "does not exist",
            status=404,
            route=b"/v2/orders/0/messages",
        ),
        post_query(
            "path-order-negative",
            HOLA_QUERY,
            "does not exist",
            status=404,
            route=b"/v2/orders/-1/messages",
        ),
    ]


def content_types() -> list[Case]:
    unsupported = "Unsupported body type "
    fields = multipart(field(b"messageOptions", b"4"), field(b"message", b"Hola"))
    unclosed = field(b"messageOptions", b"4") + b"\r\n" + field(b"message", b"Hola")

    def typed(name: str, content_type: bytes, body: bytes, says: str) -> Case:
        return Case(name, 400, says, content_type=content_type, body=body)

    return [
        typed("text-plain", b"text/plain", HOLA_QUERY, unsupported + "text/plain"),
        typed(
            "application-xml",
            b"application/xml",
            b"<message><messageOptions>4</messageOptions></message>",
            unsupported + "application/xml",
        ),
        typed(
            "multipart-mixed",
            b"multipart/mixed; boundary=" + BOUNDARY,
            fields,
            unsupported + "multipart/mixed",
        ),
        Case("no-content-type", 400, unsupported + "without a Content-Type", body=HOLA),
        typed(
            "multipart-without-boundary", b"multipart/form-data", fields, "no boundary"
        ),
        typed(
            "multipart-with-another-boundary",
            b"multipart/form-data; boundary=other",
            fields,
            "The multipart body is malformed",
        ),
        post_multipart(
            "multipart-left-open", unclosed, "ends before its closing boundary"
        ),
        post_form("form-type-with-a-json-body", HOLA, "messageOptions is required"),
        post_json("json-type-with-a-form-body", HOLA_QUERY, "not valid JSON"),
        post_json(
            "json-compressed-with-gzip",
            gzip.compress(HOLA, mtime=0),
            "not valid UTF-8",
            headers=(b"Content-Encoding: gzip",),
        ),
    ]


def unsafe_names() -> list[Case]:
    def file_name(name: str, filename: bytes, says: str) -> Case:
        return post_multipart(name, upload(filename), says, route=ATTACH)

    def document(
        name: str, document: bytes, says: str, extension: bytes = b'"pdf"'
    ) -> Case:
        return post_json(name, with_base64(document, extension), says, route=ATTACH)

    def in_query(name: str, query: bytes, says: str) -> Case:
        body = b'{"messageOptions": 4, "message": "Adjunto", "fileBase64": "%s"}'
        return post_json(
            name, body % base64.b64encode(PDF), says, route=ATTACH, query=query
        )

    malformed = "The multipart body is malformed"
    long_name = b'"%s"' % (b"a" * 100_000)
    return [
        file_name("file-up-two-directories", b"../../etc/passwd.pdf", "U+002F"),
        file_name("file-up-without-extension", b"../../etc/passwd", "not allowed"),
        file_name("file-with-backslashes", b"..\\..\\boot.ini.pdf", "U+005C"),
        file_name("file-with-nul", b"a\x00b.pdf", "U+0000"),
        file_name("file-with-tab", b"a\tb.pdf", "U+0009"),
        file_name("file-with-delete", b"a\x7fb.pdf", "U+007F"),
        file_name("file-with-c1-control", "a\u0085b.pdf".encode(), "U+0085"),
        file_name("file-with-cr-lf", b"fac\r\ntura.pdf", malformed),
        file_name("file-of-201-characters", b"a" * 197 + b".pdf", "201 characters"),
        file_name("file-of-100000-characters", b"a" * 100_000 + b".pdf", malformed),
        file_name("file-two-dots", b"..", "no extension"),
        file_name("file-three-dots", b"...", "no extension"),
        file_name("file-dots-and-extension", b"....pdf", DOTS),
        file_name("file-only-extension", b".pdf", DOTS),
        document("document-up-two-directories", b'"../../etc/passwd"', "U+002F"),
        document("document-with-nul", b'"a\\u0000b"', "U+0000"),
        document("document-with-header-injection", b'"a\\r\\nSet-Cookie: x"', "U+000D"),
        document("document-two-dots", b'".."', DOTS),
        document("document-one-dot", b'"."', DOTS),
        document("document-dots-and-spaces", b'" . . "', DOTS),
        document("document-of-100000-characters", long_name, "100004 characters"),
        document("extension-up-a-directory", b'"factura"', "not allowed", b'"../pdf"'),
        document("extension-with-nul", b'"factura"', "not allowed", b'"pdf\\u0000"'),
        in_query(
            "query-document-up-two-directories",
            b"documentName=..%2F..%2Fetc%2Fpasswd&documentExtension=pdf",
            "U+002F",
        ),
        in_query(
            "query-document-with-header-injection",
            b"documentName=a%0D%0ASet-Cookie:%20x&documentExtension=pdf",
            "U+000D",
        ),
        post_query(
            "query-message-with-nul", b"messageOptions=4&message=a%00", "U+0000"
        ),
        refused_by_parser("query-raw-control-byte", query=b"message=Hola\x01"),
        post_query(
            "path-order-up-two-directories",
            HOLA_QUERY,
            "Not Found",
            status=404,
            route=b"/v2/orders/..%2F..%2Fetc%2Fpasswd/messages",
        ),
        post_query(
            "path-with-dot-segments",
            HOLA_QUERY,
            "Not Found",
            status=404,
            route=b"/v2/orders/1/../../../etc/passwd/messages",
        ),
        post_query(
            "path-order-with-nul",
            HOLA_QUERY,
            NOT_INTEGER,
            route=b"/v2/orders/1%00/messages",
        ),
        post_query(
            "path-order-with-header-injection",
            HOLA_QUERY,
            NOT_INTEGER,
            route=b"/v2/orders/1%0D%0ASet-Cookie:%20x/messages",
        ),
        refused_by_parser(
            "idempotency-key-with-a-control-byte",
            query=HOLA_QUERY,
            headers=(b"Idempotency-Key: a\x01b",),
        ),
    ]


def repeated_parameters() -> list[Case]:
    with_json = b'{"messageOptions": 4, "message": "Hola", %s}'
    attached = (field(b"messageOptions", b"4"), field(b"message", b"Adjunto"))
    return [
        post_json(
            "option-in-query-and-json",
            HOLA,
            "messageOptions " + DIFFER,
            query=b"messageOptions=1",
        ),
        post_query(
            "option-twice-in-the-query",
            b"messageOptions=4&messageOptions=1&message=Hola",
            "messageOptions " + DIFFER,
        ),
        post_query(
            "message-in-two-spellings",
            HOLA_QUERY + b"&MESSAGE=Chau",
            "message " + DIFFER,
        ),
        post_form(
            "message-in-query-and-form",
            HOLA_QUERY,
            "message " + DIFFER,
            query=b"message=Chau",
        ),
        post_json(
            "message-twice-in-json",
            with_json % b'"message": "Chau"',
            "message " + DIFFER,
        ),
        post_json(
            "option-in-two-json-spellings",
            with_json % b'"MessageOptions": "1"',
            "messageOptions " + DIFFER,
        ),
        post_query(
            "order-in-path-and-query",
            b"orderId=2&" + HOLA_QUERY,
            "orderId " + DIFFER,
        ),
        post_json("order-in-path-and-json", with_json % b'"orderId": 2', DIFFER),
        post_json("account-in-query-and-json", with_json % b'"accountId": 2', DIFFER),
        post_query(
            "account-twice-in-the-query",
            b"accountId=2&" + HOLA_QUERY,
            "accountId " + DIFFER,
        ),
        post_json(
            "key-in-query-and-json",
            with_json % b'"API_KEY": "pv_other"',
            "API_KEY " + DIFFER,
            status=401,
        ),
        post_query(
            "key-twice-in-the-query",
            b"API_KEY=pv_other&" + HOLA_QUERY,
            "API_KEY " + DIFFER,
            status=401,
        ),
        post_form("message-twice-in-a-form", HOLA_QUERY + b"&message=Chau", DIFFER),
        post_multipart(
            "message-twice-in-multipart",
            multipart(*attached, field(b"Message", b"Chau")),
            "message " + DIFFER,
        ),
        post_multipart(
            "two-file-parts",
            multipart(*attached, file_part(b"a.pdf"), file_part(b"b.pdf")),
            "file " + DIFFER,
            route=ATTACH,
        ),
        post_multipart(
            "a-file-part-and-base64",
            multipart(
                *attached,
                field(b"fileBase64", base64.b64encode(PDF)),
                field(b"documentName", b"factura"),
                field(b"documentExtension", b"pdf"),
                file_part(b"a.pdf"),
            ),
            "not both",
            route=ATTACH,
        ),
        post_json(
            "document-name-in-query-and-json",
            with_base64(b'"dos"'),
            "documentName " + DIFFER,
            route=ATTACH,
            query=b"documentName=uno",
        ),
    ]


def read_routes() -> list[Case]:
    orders = b"/v2/orders"
    digits = b"1" + b"0" * 400
    return [
        read("limit-of-401-digits", orders, NOT_INTEGER, b"limit=" + digits),
        read("limit-negative", orders, "limit must be between", b"limit=-1"),
        read("limit-as-a-float", orders, NOT_INTEGER, b"limit=1.5"),
        read("offset-nan", orders, NOT_INTEGER, b"offset=NaN"),
        read("id-from-infinity", orders, NOT_INTEGER, b"idFrom=Infinity"),
        read("limit-twice", orders, DIFFER, b"limit=1&limit=2"),
        read("date-not-utf-8", orders, "must be a date", b"dateCreatedFrom=%FF%FE"),
        read(
            "date-with-nul", orders, "must be a date", b"dateCreatedFrom=2024-01-01%00"
        ),
        read("order-of-401-digits", orders + b"/" + digits, NOT_INTEGER),
        read("order-escaped-byte", orders + b"/%FF", NOT_INTEGER),
        read("order-negative", orders + b"/-1", "does not exist", status=404),
        read("conversation-of-order-1.0", orders + b"/1.0/messages", NOT_INTEGER),
        read(
            "message-up-two-directories",
            orders + b"/1/messages/..%2F..%2Fetc%2Fpasswd",
            "Not Found",
            status=404,
        ),
        read(
            "attachment-through-dot-segments",
            orders + b"/2/messages/../../../../etc/passwd",
            "Not Found",
            status=404,
        ),
        read(
            "attachment-of-a-401-digit-message",
            orders + b"/2/messages/" + digits + b"/attachment",
            "messageId " + NOT_INTEGER,
        ),
        read("options-of-order-1-nul", orders + b"/1%00/messages/options", NOT_INTEGER),
        read(
            "options-with-two-accounts",
            orders + b"/1/messages/options",
            "accountId " + DIFFER,
            b"accountId=2",
        ),
    ]


FAMILIES: dict[str, list[Case]] = {
    "oversize": oversize(),
    "utf8": invalid_utf8(),
    "json": hostile_json(),
    "content-type": content_types(),
    "names": unsafe_names(),
    "repeated": repeated_parameters(),
    "reads": read_routes(),
}
