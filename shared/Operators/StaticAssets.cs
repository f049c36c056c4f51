using System.Collections.Frozen;
using System.Reflection;

namespace Serverless.Operators;

/// <summary>One file of a static site: its bytes and content type.</summary>
public sealed record StaticAsset(string Path, string ContentType, byte[] Content);

/// <summary>
/// A small static site embedded in an assembly (the operator dashboard): every manifest resource
/// under a logical-name prefix, read once. A path is looked up exactly, never on disk, so no request
/// can reach another file ("../", encoded or not, simply matches nothing).
/// </summary>
public sealed class StaticAssets
{
    public const string IndexPath = "index.html";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase)
    {
        [".html"] = "text/html; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".json"] = "application/json; charset=utf-8",
        [".png"] = "image/png",
        [".ico"] = "image/x-icon",
    }.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);

    private readonly FrozenDictionary<string, StaticAsset> assets;

    public StaticAssets(Assembly assembly, string resourcePrefix)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        ArgumentException.ThrowIfNullOrEmpty(resourcePrefix);
        var found = new Dictionary<string, StaticAsset>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(resourcePrefix, StringComparison.Ordinal)))
        {
            var path = name[resourcePrefix.Length..];
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            found[path] = new StaticAsset(path, ContentTypes.GetValueOrDefault(System.IO.Path.GetExtension(path), "application/octet-stream"), buffer.ToArray());
        }

        if (!found.ContainsKey(IndexPath))
        {
            throw new InvalidOperationException($"no {IndexPath} among the resources under '{resourcePrefix}' of {assembly.GetName().Name}");
        }

        assets = found.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>The paths served, e.g. index.html, app.js.</summary>
    public IEnumerable<string> Paths => assets.Keys;

    /// <summary>The file at <paramref name="path"/> (empty: index.html), or null when there is none.</summary>
    public StaticAsset? Find(string? path) =>
        assets.GetValueOrDefault(string.IsNullOrEmpty(path) ? IndexPath : path);
}
