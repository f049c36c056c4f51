using System.Buffers.Text;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serverless.Tests.Fixtures;

namespace Serverless.Tests.EndToEnd;

/// <summary>
/// The HTTP contract under hostile and careless input (issue 10, items 3-7), over the local host:
/// signed continuation tokens, short bodies, one asOf rule, unknown fields and content types, and
/// answers that never name our .NET types.
/// </summary>
[Collection(AzuriteCollection.Name)]
public sealed class HostileInputOverHttpTests(AzuriteFixture azurite)
{
    private static readonly DateTimeOffset T0 = new(2010, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static (string, object) Rating(int member, int title, DateTimeOffset at) =>
        (member.ToString(System.Globalization.CultureInfo.InvariantCulture),
         new { id = $"rating:{member}:{title}", kind = "rating", member = $"{member}", title = $"{title}", value = 4.0, eventTime = at });

    private static StringContent Json(string body, string contentType = "application/json") => new(body, Encoding.UTF8, contentType);

    private static async Task<(HttpStatusCode Status, string Body)> Send(HttpClient http, HttpMethod method, string url, HttpContent? content = null)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        using var response = await http.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>Item 3: a token's JSON changed (here its inner storage cursor), its signature kept.</summary>
    private static string Tamper(string token, Action<JsonObject> change)
    {
        var bytes = Base64Url.DecodeFromChars(token);
        var json = JsonNode.Parse(bytes.AsSpan(0, bytes.Length - 32))!.AsObject();
        change(json);
        return Base64Url.EncodeToString([.. Encoding.UTF8.GetBytes(json.ToJsonString()), .. bytes[^32..]]);
    }

    [Fact]
    public async Task An_altered_continuation_token_is_a_400_wherever_it_was_changed()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0.AddDays(1));
        await host.PublishFactsAsync(Enumerable.Range(0, 12).Select(i => Rating(1 + (i % 2), 100 + i, T0.AddMinutes(i))));
        var first = await host.Http.GetFromJsonAsync<JsonObject>("api/archive/facts?pageSize=2");
        var token = (string)first!["continuation"]!;
        Assert.NotNull(JsonNode.Parse(Base64Url.DecodeFromChars(token).AsSpan(0, Base64Url.DecodeFromChars(token).Length - 32))!["C"]);

        var garbageCursor = Tamper(token, j => j["C"] = "1!garbage");
        var blankCursor = Tamper(token, j => j["C"] = null);
        var otherPartition = Tamper(token, j => j["P"] = "m_2");
        var flipped = token[..^2] + (token[^2] == 'A' ? 'B' : 'A') + token[^1];
        foreach (var altered in new[] { garbageCursor, blankCursor, otherPartition, flipped })
        {
            var (status, body) = await Send(host.Http, HttpMethod.Get, "api/archive/facts?pageSize=2&continuation=" + Uri.EscapeDataString(altered));
            Assert.True(status == HttpStatusCode.BadRequest, body);
            Assert.Contains("continuation token", body, StringComparison.Ordinal);
        }

        // The unaltered token still walks the rest: every fact once.
        var ids = first["facts"]!.AsArray().Select(f => (string)f!["id"]!).ToList();
        for (string? next = token; next is not null;)
        {
            var page = await host.Http.GetFromJsonAsync<JsonObject>("api/archive/facts?pageSize=2&continuation=" + Uri.EscapeDataString(next));
            ids.AddRange(page!["facts"]!.AsArray().Select(f => (string)f!["id"]!));
            next = (string?)page["continuation"];
        }

        Assert.Equal(12, ids.Distinct().Count());
        Assert.Equal(12, ids.Count);
    }

    [Fact]
    public async Task A_body_shorter_than_its_content_length_is_a_400_or_408_never_a_500()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        var port = host.Http.BaseAddress!.Port;
        var errors = new LogRecorder(LogLevel.Error);   // errors the host logs (a function that failed with a 500 logs one)
        host.App.Services.GetRequiredService<ILoggerFactory>().AddProvider(errors);

        async Task<string> RawAsync(bool closeSending)
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port);
            var stream = client.GetStream();
            var head = $"POST /api/rank HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"member\":\"1\"";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            if (closeSending)
            {
                client.Client.Shutdown(SocketShutdown.Send);
            }

            using var reader = new StreamReader(stream, Encoding.ASCII);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            try
            {
                return await reader.ReadLineAsync(timeout.Token) ?? "(closed)";
            }
            catch (IOException)
            {
                return "(reset)";
            }
        }

        // The client stops sending (closes its side, as a load tool cut off mid-body does): the body
        // ended early. Kestrel may reset a half-closed connection before the answer arrives; either
        // way the function answered 400, it did not fail with a 500.
        var closed = await RawAsync(closeSending: true);
        Assert.True(closed.StartsWith("HTTP/1.1 400", StringComparison.Ordinal) || closed is "(reset)" or "(closed)", closed);
        await Task.Delay(500);
        Assert.Empty(errors.Lines);

        // The client keeps the connection open and sends nothing more: the body stopped arriving.
        Assert.Matches("^HTTP/1.1 (400|408)", await RawAsync(closeSending: false));
        Assert.Empty(errors.Lines);
    }

    [Fact]
    public async Task Stopping_the_host_logs_no_error()
    {
        // Issue 10, item 13: the background services (live-model refresher, feature-log publisher) end quietly on shutdown.
        var host = await LocalHostFixture.StartAsync(azurite, T0);
        var errors = new LogRecorder(LogLevel.Error);   // errors the host logs (a function that failed with a 500 logs one)
        host.App.Services.GetRequiredService<ILoggerFactory>().AddProvider(errors);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, "api/archive/members/1/history")).Status);

        await host.DisposeAsync();

        Assert.Empty(errors.Lines);
    }


    [Fact]
    public async Task One_asOf_rule_on_every_route_up_to_now_plus_the_skew()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        var now = host.Clock.GetUtcNow();
        string Q(DateTimeOffset t) => Uri.EscapeDataString(t.ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        var neverMarker = new DateTimeOffset(9999, 12, 31, 0, 0, 0, TimeSpan.Zero);

        foreach (var asOf in new[] { now.AddMinutes(2), neverMarker })
        {
            foreach (var url in new[] { $"api/archive/members/1/history?asOf={Q(asOf)}", $"api/archive/titles/1?asOf={Q(asOf)}", $"api/archive/facts?asOf={Q(asOf)}" })
            {
                var (status, body) = await Send(host.Http, HttpMethod.Get, url);
                Assert.True(status == HttpStatusCode.BadRequest, $"{url}: {status} {body}");
                Assert.Contains("asOf", body, StringComparison.Ordinal);
            }

            var export = await Send(host.Http, HttpMethod.Post, "api/archive/exports", Json($"{{\"asOf\":\"{asOf:O}\"}}"));
            Assert.True(export.Status == HttpStatusCode.BadRequest, export.Body);
            var rank = await Send(host.Http, HttpMethod.Post, "api/rank", Json($"{{\"member\":\"1\",\"asOf\":\"{asOf:O}\"}}"));
            Assert.True(rank.Status == HttpStatusCode.BadRequest, rank.Body);
        }

        // Within the skew: allowed everywhere.
        var within = now.AddSeconds(30);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, $"api/archive/members/1/history?asOf={Q(within)}")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Send(host.Http, HttpMethod.Get, $"api/archive/facts?asOf={Q(within)}")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Send(host.Http, HttpMethod.Get, $"api/archive/titles/1?asOf={Q(within)}")).Status);
    }

    [Fact]
    public async Task Unknown_fields_are_a_400_naming_them_and_non_json_bodies_a_415()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);

        var export = await Send(host.Http, HttpMethod.Post, "api/archive/exports", Json("{\"title\":\"318\"}"));
        Assert.True(export.Status == HttpStatusCode.BadRequest, export.Body);
        Assert.Contains("unknown field 'title'", export.Body, StringComparison.Ordinal);
        Assert.Contains("member", export.Body, StringComparison.Ordinal);

        var rank = await Send(host.Http, HttpMethod.Post, "api/rank", Json("{\"member\":\"1\",\"limit\":5}"));
        Assert.True(rank.Status == HttpStatusCode.BadRequest, rank.Body);
        Assert.Contains("unknown field 'limit'", rank.Body, StringComparison.Ordinal);

        var form = await Send(host.Http, HttpMethod.Post, "api/rank", Json("{\"member\":\"1\"}", "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, form.Status);
        Assert.Contains("application/json", form.Body, StringComparison.Ordinal);
        var text = await Send(host.Http, HttpMethod.Post, "api/archive/exports", Json("{}", "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, text.Status);

        // No body at all stays allowed where a body is optional.
        Assert.Equal(HttpStatusCode.Accepted, (await Send(host.Http, HttpMethod.Post, "api/archive/exports")).Status);
    }

    private static readonly string[] HostileBodies =
    [
        "{\"count\":\"many\"}", "{\"member\":5}", "[]", "\"text\"", "{\"candidates\":\"318\"}", "{\"candidates\":[1,2]}",
        "{\"asOf\":\"yesterday\"}", "{\"approvalTimeout\":\"forever\"}", "{\"trainer\":\"gpt\"}", "{\"approve\":\"yes\"}",
        "{\"member\":{\"a\":1}}", "{\"count\":1e400}", "{\"count\":2147483648}", "{\"pageSize\":-1}", "{\"from\":12}",
        "null", "{", "{\"a\":", new string('[', 200) + new string(']', 200), "{\"member\":\"1\",\"member\":\"2\"}",
        "{\"by\":" + new string('x', 10) + "}", "{\"expectedLive\":[]}", "{\"fromLoggedFeatures\":1}", "{\"requestedBy\":null,\"x\":[]}",
    ];

    [Fact]
    public async Task No_answer_to_a_hostile_body_on_any_route_is_a_500_or_names_a_dotnet_type()
    {
        await using var host = await LocalHostFixture.StartAsync(azurite, T0);
        string[] routes = ["api/rank", "api/archive/exports", "api/models/rollback", "api/pipelines/train", "api/pipelines/train/nope/approval"];
        string[] gets =
        [
            "api/archive/members/1/history?limit=x", "api/archive/members/1/history?asOf=%00", "api/archive/facts?kind=%7B%7D",
            "api/archive/facts?continuation=eyJ2IjoyfQ", "api/archive/titles/%E2%82%AC", "api/archive/deadletters?source=System.Object",
            "api/archive/exports/..%2F..", "api/pipelines/train/%20",
        ];
        var answers = new List<(string Where, HttpStatusCode Status, string Body)>();
        foreach (var route in routes)
        {
            foreach (var body in HostileBodies)
            {
                var (status, text) = await Send(host.Http, HttpMethod.Post, route, Json(body));
                answers.Add(($"POST {route} {body[..Math.Min(body.Length, 40)]}", status, text));
            }

            var bytes = new ByteArrayContent([0xff, 0xfe, 0x7b, 0x22]);
            bytes.Headers.ContentType = new("application/json");
            var (s, t) = await Send(host.Http, HttpMethod.Post, route, bytes);
            answers.Add(($"POST {route} invalid UTF-8", s, t));
        }

        foreach (var url in gets)
        {
            var (status, text) = await Send(host.Http, HttpMethod.Get, url);
            answers.Add(($"GET {url}", status, text));
        }

        Assert.All(answers, a =>
        {
            // 503 is the honest answer of rank without a model (nothing was published in this host); never a 500.
            Assert.True((int)a.Status < 500 || (a.Status == HttpStatusCode.ServiceUnavailable && a.Body.Contains("no valid model", StringComparison.Ordinal)), $"{a.Where}: {(int)a.Status} {a.Body}");
            Assert.DoesNotContain("Serverless.", a.Body, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", a.Body, StringComparison.Ordinal);
            Assert.DoesNotContain("Microsoft.", a.Body, StringComparison.Ordinal);
        });
        Assert.Contains(answers, a => a.Body.Contains("field 'count' must be a whole number", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.Body.Contains("field 'candidates' must be an array of strings", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.Body.Contains("field 'member' is given more than once", StringComparison.Ordinal));
    }
}
