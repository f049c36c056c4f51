using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Serverless.Archive;

/// <summary>
/// The batch interface's continuation token: opaque to callers, bound to the query it came from
/// (a fingerprint of the query's parameters) and carrying the resolved as-of time, so the pages of
/// one export all see the same snapshot of knowledge. The whole token is signed (HMAC-SHA256 with
/// the configured <see cref="ArchiveOptions.ContinuationKey"/>): a token altered anywhere, including
/// its inner storage cursor, is refused, never followed.
/// </summary>
/// <param name="Partition">The archive partition to continue in.</param>
/// <param name="Inner">The storage continuation inside that partition, if the partition was not finished.</param>
public sealed record PageToken(string Partition, string? Inner, string Fingerprint, DateTimeOffset AsOf)
{
    private const int MaxEncodedLength = 4096;
    private const int MacBytes = 32;

    private sealed record Wire(int V, string P, string? C, string Q, long A);

    /// <summary>The token as text: base64url of its JSON followed by the HMAC of that JSON.</summary>
    public string Encode(byte[] key)
    {
        var json = JsonSerializer.SerializeToUtf8Bytes(new Wire(2, Partition, Inner, Fingerprint, AsOf.UtcTicks));
        var signed = new byte[json.Length + MacBytes];
        json.CopyTo(signed, 0);
        HMACSHA256.HashData(key, json, signed.AsSpan(json.Length));
        return Base64Url.EncodeToString(signed);
    }

    /// <summary>Decodes a token; returns an error message for anything that is not a token this service issued, unaltered.</summary>
    public static bool TryDecode(string encoded, byte[] key, out PageToken? token, out string? error)
    {
        token = null;
        error = null;
        if (encoded.Length is 0 or > MaxEncodedLength)
        {
            error = "continuation token has an invalid length";
            return false;
        }

        try
        {
            var bytes = Base64Url.DecodeFromChars(encoded);
            if (bytes.Length <= MacBytes)
            {
                error = "continuation token is malformed";
                return false;
            }

            var json = bytes.AsSpan(0, bytes.Length - MacBytes);
            Span<byte> expected = stackalloc byte[MacBytes];
            HMACSHA256.HashData(key, json, expected);
            if (!CryptographicOperations.FixedTimeEquals(expected, bytes.AsSpan(bytes.Length - MacBytes)))
            {
                error = "continuation token was altered or not issued by this service (pass it back exactly as received)";
                return false;
            }

            var wire = JsonSerializer.Deserialize<Wire>(json);
            if (wire is null || wire.V != 2 || string.IsNullOrEmpty(wire.Q) || !Facts.FactPartition.IsPartitionKey(wire.P)
                || wire.A < DateTimeOffset.MinValue.UtcTicks || wire.A > DateTimeOffset.MaxValue.UtcTicks
                || (wire.C is not null && (wire.C.Length is 0 or > 1024 || wire.C.Any(c => c < 0x20 || c > 0x7E))))
            {
                error = "continuation token is malformed";
                return false;
            }

            token = new PageToken(wire.P, wire.C, wire.Q, new DateTimeOffset(wire.A, TimeSpan.Zero));
            return true;
        }
        catch (Exception ex) when (ex is FormatException or JsonException or ArgumentException)
        {
            error = "continuation token is malformed";
            return false;
        }
    }

    public static string FingerprintOf(params object?[] parts)
    {
        var text = string.Join('\u001f', parts.Select(p => p switch
        {
            null => "",
            DateTimeOffset d => d.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
            _ => p.ToString(),
        }));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text))[..12]);
    }
}
