using System.Buffers;
using System.Text;
using System.Text.Json;
using Serverless.Lumberjack;

namespace Serverless.Tests.Lumberjack;

/// <summary>
/// The landing's fast reader only ever accepts, and only what the serializer-based check accepts
/// with the same header; every other event gets the serializer's verdict and reason.
/// </summary>
public sealed class FeatureLogEventReaderTests
{
    private static readonly DateTimeOffset T0 = new(2024, 3, 1, 12, 0, 0, TimeSpan.Zero);

    private static byte[] Written(int seed, int candidates = 3, int features = 4)
    {
        var random = new Random(seed);
        var titles = Enumerable.Range(0, candidates).Select(i => (100 + i).ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        var vectors = Enumerable.Range(0, candidates).Select(_ => Enumerable.Range(0, features).Select(_ => (float)(random.NextDouble() * 10 - 5)).ToArray()).ToArray();
        var scores = Enumerable.Range(0, candidates).Select(_ => (float)random.NextDouble()).ToArray();
        using var request = LoggedRequest.Capture($"log{seed}", T0.AddMinutes(seed), $"m{seed % 7}", "v1", "hash1", T0.AddMinutes(seed - 5), seed % 2 == 0,
            titles, vectors, scores, Enumerable.Range(0, candidates).ToArray(), seed % 3 == 0 ? null : T0.AddMinutes(seed - 6));
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            FeatureLogEvent.Write(writer, request);
        }

        return buffer.WrittenSpan.ToArray();
    }

    private static string Text(byte[] body) => Encoding.UTF8.GetString(body);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>Asserts the contract on one payload; returns whether the fast path accepted it.</summary>
    private static bool AssertAgrees(byte[] payload)
    {
        var fast = CanonicalFeatureLogReader.TryAccept(payload);
        var slow = FeatureLogEvent.CheckWithSerializer(payload);
        if (fast is not null)
        {
            Assert.True(slow.Header is not null, $"fast path accepted what the serializer refuses ({slow.Error}): {Text(payload)}");
            Assert.Equal(slow.Header, fast);
        }

        Assert.Equal(slow, FeatureLogEvent.Check(payload));
        return fast is not null;
    }

    [Fact]
    public void Events_as_serving_writes_them_take_the_fast_path_with_the_serializers_header()
    {
        for (var seed = 0; seed < 200; seed++)
        {
            Assert.True(AssertAgrees(Written(seed, candidates: 1 + (seed % 5), features: 1 + (seed % 17))), $"seed {seed} not accepted by the fast path");
        }

        // The serializer's own output (other property order is fine) is canonical too.
        var record = new FeatureLogRecord("log1", T0, "7", "10", 0, "v1", "hash1", [1f, -2f], 0.5f, T0.AddMinutes(-1), false);
        Assert.True(AssertAgrees(FeatureLogEvent.From([record]).ToJson()));
    }

    [Theory]
    [InlineData("\"schemaVersion\":2", "\"schemaVersion\":\"2\"", false)] // number as string: the serializer reads it
    [InlineData("\"logId\":\"log3\"", "\"LOGID\":\"log3\"", false)] // case-insensitive names
    [InlineData("\"member\":\"m3\"", "\"member\":\"m\\u0033\"", false)] // escaped, still a valid key
    [InlineData("\"member\":\"m3\"", "\"member\":\"m3\",\"member\":\"m4\"", false)] // duplicate: last wins in the serializer
    [InlineData("\"fallback\":false", "\"fallback\":false,\"extra\":{\"a\":[1,2]}", false)] // unknown member
    [InlineData("\"member\":\"m3\"", "\"member\":\"m/3\"", true)] // bad key
    [InlineData("\"schemaVersion\":2", "\"schemaVersion\":1", true)]
    [InlineData("\"position\":0", "\"position\":-1", true)]
    [InlineData("\"position\":0", "\"position\":1001", true)]
    [InlineData("\"items\":[", "\"items\":[null,", true)]
    [InlineData("\"modelVersion\":\"v1\"", "\"modelVersion\":null", true)]
    [InlineData("\"modelVersion\":\"v1\"", "\"modelVersion\":\"\"", true)]
    [InlineData("\"fallback\":false", "\"fallback\":0", true)]
    public void Every_variant_gets_the_serializers_verdict(string find, string replace, bool refused)
    {
        var text = Text(Written(3));
        Assert.Contains(find, text, StringComparison.Ordinal);
        var variant = Bytes(text.Replace(find, replace, StringComparison.Ordinal));
        Assert.False(AssertAgrees(variant), "the fast path accepts only the canonical shape");
        Assert.Equal(refused, FeatureLogEvent.Check(variant).Header is null);
    }

    [Theory]
    [InlineData("0.5", true)]
    [InlineData("-12345678901234567890123456789012345678", true)] // 38 characters, no exponent: below 10^38, taken without parsing
    [InlineData("123456789012345678901234567890123456789", true)] // 39 digits: ~1.2 x 10^38, parsed, finite
    [InlineData("3.4028235e38", true)]
    [InlineData("1E-50", true)] // rounds to zero: finite
    [InlineData("999999999999999999999999999999999999999", false)] // 39 digits, above float32's range
    [InlineData("1e39", false)]
    [InlineData("-4E+38", false)]
    public void A_score_is_accepted_exactly_when_it_is_a_finite_float32(string score, bool finite)
    {
        var text = Text(Written(3, candidates: 1));
        var at = text.IndexOf("\"score\":", StringComparison.Ordinal) + "\"score\":".Length;
        var end = text.IndexOf(',', at);
        var variant = Bytes(string.Concat(text.AsSpan(0, at), score, text.AsSpan(end)));

        Assert.Equal(finite, AssertAgrees(variant));
        Assert.Equal(finite, FeatureLogEvent.Check(variant).Header is not null);
    }

    [Theory]
    [InlineData("AACAPw==", true, true)] // 1.0: one '=' ...
    [InlineData("AAAAAAAAgD8=", true, true)] // 0, 1.0: ... two, ...
    [InlineData("AAAAPwAAgD8AAADA", true, true)] // 0.5, 1.0, -2.0: ... none
    [InlineData("AACAPx==", null, null)] // bits after the last byte
    [InlineData("AACA Pw==", null, null)] // whitespace
    [InlineData("AACAPw", false, false)] // unpadded
    [InlineData("AACAPw==AACAPw==", false, false)] // padding inside
    [InlineData("AAC-Pw==", false, false)] // URL-safe alphabet
    [InlineData("AACAPwE=", false, false)] // 5 bytes: not float32s
    [InlineData("AACAfw==", false, false)] // +infinity
    [InlineData("", false, false)]
    public void Feature_bytes_get_the_serializers_verdict_on_either_path(string base64, bool? fast, bool? accepted)
    {
        var text = Text(Written(3, candidates: 1));
        var at = text.IndexOf("\"features\":\"", StringComparison.Ordinal) + "\"features\":\"".Length;
        var end = text.IndexOf('"', at);
        var variant = Bytes(string.Concat(text.AsSpan(0, at), base64, text.AsSpan(end)));

        var taken = AssertAgrees(variant);
        if (fast is { } expectedFast)
        {
            Assert.Equal(expectedFast, taken);
        }

        if (accepted is { } expected)
        {
            Assert.Equal(expected, FeatureLogEvent.Check(variant).Header is not null);
        }
    }

    [Fact]
    public void Random_feature_strings_never_make_the_fast_path_disagree()
    {
        const string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=== -_";
        var random = new Random(271127);
        var text = Text(Written(3, candidates: 1));
        var at = text.IndexOf("\"features\":\"", StringComparison.Ordinal) + "\"features\":\"".Length;
        var end = text.IndexOf('"', at);
        var fastAccepted = 0;
        for (var i = 0; i < 3000; i++)
        {
            var length = 4 * random.Next(1, 7) + (random.Next(4) == 0 ? random.Next(1, 4) : 0);
            var base64 = new string(Enumerable.Range(0, length).Select(_ => alphabet[random.Next(random.Next(3) == 0 ? alphabet.Length : 64)]).ToArray());
            if (random.Next(2) == 0 && length % 4 == 0)
            {
                // Proper padding half the time, so many strings decode.
                base64 = base64[..^2] + (random.Next(2) == 0 ? "==" : base64[^2] + "=");
            }

            fastAccepted += AssertAgrees(Bytes(string.Concat(text.AsSpan(0, at), base64, text.AsSpan(end)))) ? 1 : 0;
        }

        Assert.InRange(fastAccepted, 1, 2999);
    }

    [Fact]
    public void Refused_events_keep_the_serializers_reason()
    {
        var record = new FeatureLogRecord("log1", T0, "7", "10", 0, "v1", "hash1", [1f, float.NaN], 0.5f, T0.AddMinutes(-1), false);
        var nan = FeatureLogEvent.From([record]).ToJson();
        Assert.Contains("finite", FeatureLogEvent.Check(nan).Error, StringComparison.Ordinal);
        var late = FeatureLogEvent.From([record with { Features = [1f], Watermark = T0.AddDays(1) }]).ToJson();
        Assert.Contains("after the request time", FeatureLogEvent.Check(late).Error, StringComparison.Ordinal);
        var tooMany = FeatureLogEvent.From([record with { Features = new float[FeatureLogRecord.MaxFeatures + 1] }]).ToJson();
        Assert.Contains("float32 features", FeatureLogEvent.Check(tooMany).Error, StringComparison.Ordinal);
        Assert.Contains("malformed JSON", FeatureLogEvent.Check([.. Written(1), .. "{}"u8]).Error, StringComparison.Ordinal);
        Assert.All(new[] { nan, late, tooMany }, p => AssertAgrees(p));
    }

    [Fact]
    public void The_history_watermark_is_optional_and_never_after_the_watermark()
    {
        // Serving writes it; an older event has none and reads back with none (the skew meter then uses the watermark).
        var with = FeatureLogEvent.Parse(Written(1));
        Assert.Equal(T0.AddMinutes(-5), Assert.Single(with.Records!.Select(r => r.HistoryWatermark).Distinct()));
        Assert.Contains("\"historyWatermark\"", Text(Written(1)), StringComparison.Ordinal);
        var without = Written(3);
        Assert.DoesNotContain("historyWatermark", Text(without), StringComparison.Ordinal);
        var old = FeatureLogEvent.Parse(without).Records!;
        Assert.All(old, r => Assert.Null(r.HistoryWatermark));
        Assert.All(old, r => Assert.Equal(r.Watermark, r.HistoryAsOf));
        Assert.True(AssertAgrees(without));
        Assert.True(AssertAgrees(Written(1)));

        // Round trip through the serializer's own shape keeps it.
        var record = new FeatureLogRecord("log1", T0, "7", "10", 0, "v1", "hash1", [1f], 0.5f, T0.AddMinutes(-1), false, T0.AddMinutes(-2));
        Assert.Equal(T0.AddMinutes(-2), Assert.Single(FeatureLogEvent.Parse(FeatureLogEvent.From([record]).ToJson()).Records!).HistoryWatermark);

        // After the watermark (the facts read as of the watermark cannot be newer): refused by both paths, with the reason.
        var after = FeatureLogEvent.From([record with { HistoryWatermark = T0 }]).ToJson();
        Assert.Contains("historyWatermark is after the watermark", FeatureLogEvent.Check(after).Error, StringComparison.Ordinal);
        Assert.False(AssertAgrees(after));
        var canonicalAfter = Bytes(Text(Written(1)).Replace("\"historyWatermark\":\"" + T0.AddMinutes(-5).ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture),
            "\"historyWatermark\":\"" + T0.AddMinutes(30).ToString("yyyy-MM-dd'T'HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        Assert.NotEqual(Written(1), canonicalAfter);
        Assert.False(AssertAgrees(canonicalAfter));
        Assert.Null(FeatureLogEvent.Check(canonicalAfter).Header);
    }

    [Fact]
    public void Random_corruptions_never_make_the_fast_path_disagree()
    {
        var random = new Random(20261127);
        var fastAccepted = 0;
        for (var i = 0; i < 3000; i++)
        {
            var payload = Written(random.Next(100), candidates: 1 + random.Next(3), features: 1 + random.Next(4)).ToList();
            for (var edits = 1 + random.Next(3); edits > 0; edits--)
            {
                var at = random.Next(payload.Count);
                switch (random.Next(3))
                {
                    case 0: payload[at] = (byte)random.Next(32, 127); break;
                    case 1: payload.RemoveAt(at); break;
                    default: payload.Insert(at, (byte)"0123456789\":,{}[]-+eE. \\A/"[random.Next(26)]); break;
                }
            }

            fastAccepted += AssertAgrees([.. payload]) ? 1 : 0;
        }

        // Some corruptions stay valid (a digit of a feature's base64, a score); those are still fast.
        Assert.InRange(fastAccepted, 1, 2999);
    }
}
