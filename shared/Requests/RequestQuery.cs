using System.Globalization;

namespace Serverless.Requests;

/// <summary>
/// A request's query string as the domain sees it (no ASP.NET types): names to values, with the
/// checks every query shares. Unknown or repeated parameters, numbers and times out of shape are
/// refusals (400) naming the parameter. <c>code</c> (the Functions key, when sent in the query) is
/// the platform's, never the route's, and is left out.
/// </summary>
public sealed class RequestQuery
{
    public const string FunctionKeyParameter = "code";

    private readonly Dictionary<string, IReadOnlyList<string?>> values;

    public RequestQuery(IEnumerable<KeyValuePair<string, IReadOnlyList<string?>>> values)
    {
        this.values = new(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in values ?? [])
        {
            if (!key.Equals(FunctionKeyParameter, StringComparison.OrdinalIgnoreCase))
            {
                this.values[key] = value;
            }
        }
    }

    public static RequestQuery Empty { get; } = new([]);

    public IEnumerable<string> Names => values.Keys;

    /// <summary>Refuses any parameter not in <paramref name="allowed"/>, naming it and the allowed ones.</summary>
    public RequestQuery Allow(params string[] allowed)
    {
        foreach (var key in values.Keys)
        {
            if (!allowed.Contains(key, StringComparer.OrdinalIgnoreCase))
            {
                throw RequestRefusedException.BadRequest($"unknown query parameter '{Cut(key)}' (allowed: {(allowed.Length == 0 ? "none" : string.Join(", ", allowed))})");
            }
        }

        return this;
    }

    /// <summary>How many times the parameter is given (0: absent).</summary>
    public int Occurrences(string name) => values.TryGetValue(name, out var list) ? list.Count : 0;

    /// <summary>The parameter's value when given once (possibly empty); null when absent; a refusal when given twice.</summary>
    public string? Single(string name)
    {
        if (!values.TryGetValue(name, out var list))
        {
            return null;
        }

        return list.Count != 1 ? throw RequestRefusedException.BadRequest($"{name} must be given once") : list[0] ?? string.Empty;
    }

    /// <summary>A whole number in <paramref name="min"/>..<paramref name="max"/>, or <paramref name="whenAbsent"/> (absent or empty).</summary>
    public int Int(string name, int min, int max, int whenAbsent)
    {
        if (Single(name) is not { Length: > 0 } raw)
        {
            return whenAbsent;
        }

        return int.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw RequestRefusedException.BadRequest($"{name} must be a whole number {min}..{max}");
    }

    private static string Cut(string s) => s.Length <= 40 ? s : s[..40] + "...";
}
