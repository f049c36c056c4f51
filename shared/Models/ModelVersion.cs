using System.Text.RegularExpressions;

namespace Serverless.Models;

/// <summary>
/// Model version ids: [A-Za-z0-9._-]{1,64}. They become blob paths and table row keys, so anything
/// else (quotes, slashes, spaces, OData operators) is rejected before it reaches storage.
/// </summary>
public static partial class ModelVersion
{
    public const int MaxLength = 64;

    public static bool IsValid(string? version) => version is not null && Pattern().IsMatch(version);

    /// <summary>Returns <paramref name="version"/> or throws <see cref="ArgumentException"/> naming the rule.</summary>
    public static string Validate(string? version, string paramName = "version") =>
        IsValid(version)
            ? version!
            : throw new ArgumentException($"Model version '{version}' is invalid: use 1-{MaxLength} characters of A-Z, a-z, 0-9, '.', '_' or '-'.", paramName);

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$", RegexOptions.CultureInvariant)]
    private static partial Regex Pattern();
}
