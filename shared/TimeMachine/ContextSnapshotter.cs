using System.IO.Compression;
using System.Net;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Serverless.Archive;
using Serverless.Facts;
using Serverless.Features;
using Serverless.Precompute;

namespace Serverless.TimeMachine;

/// <summary>
/// The plan of a snapshot (written once, If-None-Match: a retried plan reads the first one back).
/// <see cref="FactSnapshot"/> names the fact snapshot at T the members' histories are taken from
/// (null: they are read through the archive's live interface as of T).
/// </summary>
public sealed record SnapshotPlan(string Id, DateTimeOffset AsOf, int Population, IReadOnlyList<SampledMember> Members, IReadOnlyList<string> WithoutHistory, int Partitions, string? FactSnapshot = null);

/// <summary>What the plan activity returns through the orchestration's history: counts, never the members.</summary>
public sealed record SnapshotPlanSummary(int Population, int Members, int WithoutHistory);

/// <summary>The catalog file's counts and the derived versions current at T.</summary>
public sealed record SnapshotCatalogPart(SnapshotPart Catalog, IReadOnlyDictionary<string, string> DerivedVersions, SnapshotPart? TitleStats);

/// <summary>
/// The Snapshotter of chosen contexts (the talk's Time Machine): at time T, for a stratified sample of
/// members, it captures exactly what the encoder reads for them: each member's history as known at T
/// (event and ingest time &lt;= T, current versions, the same live read serving does, so the
/// <see cref="FeatureConfig.HistoryLimit"/> newest), the catalog as of T, and the versions of derived
/// data current at T (title statistics recomputed from the facts known at T when none was). Files go
/// to blob storage under the snapshot id; the manifest is written last and only once (If-None-Match),
/// so a snapshot is complete exactly when its manifest exists.
/// <para>
/// The histories come from the fact snapshot at T when the archive's ingest journal can cut one
/// cheaply (<see cref="IncrementalSnapshots.CutFromJournalAsync"/>: the newest earlier snapshot plus
/// the journal since, no archive read): it holds every version current at T, so a member's facts in
/// it with event time &lt;= T, in the archive's order, are exactly what the live read as of T returns
/// (tests compare both). The plan names that snapshot; planning measures every member's activity from
/// it in memory and each capture loads it once, instead of one live read per member (which, for a
/// member whose recent-history entity no longer covers T, is a partition query of its fact rows).
/// Without a journal (or without <paramref name="factSnapshots"/>) the live interface answers.
/// </para>
/// </summary>
public sealed class ContextSnapshotter(
    BlobServiceClient blobs, ILiveHistory live, ArchiveReader archive, ArchiveTables tables, DerivedVersionRegistry derived, FeatureEncoder encoder,
    string container = ContextSnapshotter.Container, IncrementalSnapshots? factSnapshots = null)
{
    /// <summary>
    /// The histories at T of the last fact snapshot read, as a load under way or done: planning and the
    /// captures of one run share it, and captures running at once load the snapshot once. Cleared when
    /// a snapshot completes.
    /// </summary>
    private Loaded? histories;

    private sealed record Loaded(string Snapshot, DateTimeOffset AsOf, Task<HistoriesAtT> Histories);

    public const string Container = "context-snapshots";

    /// <summary>Facts counted per member for its activity (enough to tell light from heavy).</summary>
    public const int ActivityCap = 500;

    /// <summary>Members read at once while planning and capturing.</summary>
    public const int ReadParallelism = 8;

    public const string ManifestName = "manifest.json";

    private static readonly JsonSerializerOptions Json = FactJson.Options;

    public static string PlanBlob(string id) => $"{id}/plan.json";

    public static string MembersBlob(string id, int partition) => $"{id}/members-{partition:D3}.jsonl.gz";

    public static string CatalogBlob(string id) => $"{id}/catalog.jsonl.gz";

    public static string TitleStatsBlobName(string id) => $"{id}/title-stats.jsonl.gz";

    public static string ManifestBlob(string id) => $"{id}/{ManifestName}";

    private BlobContainerClient ContainerClient => blobs.GetBlobContainerClient(container);

    /// <summary>Lists the members (the archive's partition index, or the named ones), measures their activity at T and chooses the sample.</summary>
    public async Task<SnapshotPlanSummary> PlanAsync(ContextSnapshotRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        await ContainerClient.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        var existing = await ReadJsonAsync<SnapshotPlan>(PlanBlob(request.Id), cancellationToken);
        if (existing is null)
        {
            var members = request.Sample.Members ?? await AllMembersAsync(cancellationToken);
            var activity = new (string Member, int Activity)[members.Count];
            var cut = factSnapshots is null ? null : await factSnapshots.CutFromJournalAsync(request.AsOf, cancellationToken);
            if (cut is not null)
            {
                var atT = Remember(HistoriesAtT.From(cut.Manifest.Snapshot, request.AsOf, cut.Facts));
                for (var i = 0; i < members.Count; i++)
                {
                    activity[i] = (members[i], atT.Count(members[i], ActivityCap));
                }
            }
            else
            {
                await Parallel.ForEachAsync(Enumerable.Range(0, members.Count), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
                    async (i, ct) => activity[i] = (members[i], (await live.HistoryAsync(members[i], ActivityCap, request.AsOf, ct)).Count));
            }

            // Listed from the partition index as it is when the plan runs, a member with no fact known at T
            // (all its facts came later) did not exist at T: the population is the members of T. Members named
            // in the request are kept, and listed as without history.
            var population = request.Sample.Members is null ? activity.Where(a => a.Activity > 0).ToArray() : activity;
            var chosen = request.Sample.Choose(population);
            var without = population.Where(a => a.Activity == 0).Select(a => a.Member).Order(StringComparer.Ordinal).ToList();
            var plan = new SnapshotPlan(request.Id, request.AsOf, population.Length, chosen, without, request.Partitions, cut?.Manifest.Snapshot);
            if (!await TryWriteOnceAsync(PlanBlob(request.Id), JsonSerializer.SerializeToUtf8Bytes(plan, Json), cancellationToken))
            {
                existing = await ReadJsonAsync<SnapshotPlan>(PlanBlob(request.Id), cancellationToken);
            }
            else
            {
                existing = plan;
            }
        }

        return new SnapshotPlanSummary(existing!.Population, existing.Members.Count, existing.WithoutHistory.Count);
    }

    /// <summary>Captures one member partition: each planned member's history as known at T, one gzipped JSON line per member. Idempotent (same content on a retry).</summary>
    public async Task<SnapshotPart> CapturePartitionAsync(string id, DateTimeOffset asOf, int partition, CancellationToken cancellationToken = default)
    {
        var plan = await ReadJsonAsync<SnapshotPlan>(PlanBlob(id), cancellationToken) ?? throw new InvalidOperationException($"snapshot {id} has no plan");
        var members = plan.Members.Where(m => PartitionOf(m.Member, plan.Partitions) == partition).ToList();
        var captured = new SnapshotMember[members.Count];
        if (plan.FactSnapshot is { } factSnapshot && factSnapshots is not null)
        {
            var atT = await HistoriesAsync(factSnapshot, plan.AsOf, cancellationToken);
            for (var i = 0; i < members.Count; i++)
            {
                var m = members[i];
                captured[i] = new SnapshotMember(m.Member, m.Stratum, m.Activity, atT.Take(m.Member, encoder.Config.HistoryLimit).Where(f => KnownAt.IsKnown(f, asOf)).ToList());
            }
        }
        else
        {
            await Parallel.ForEachAsync(Enumerable.Range(0, members.Count), new ParallelOptions { MaxDegreeOfParallelism = ReadParallelism, CancellationToken = cancellationToken },
                async (i, ct) =>
                {
                    var m = members[i];
                    var history = await live.HistoryAsync(m.Member, encoder.Config.HistoryLimit, asOf, ct);
                    captured[i] = new SnapshotMember(m.Member, m.Stratum, m.Activity, history.Select(h => h.Fact).Where(f => KnownAt.IsKnown(f, asOf)).ToList());
                });
        }

        var bytes = await WriteLinesAsync(MembersBlob(id, partition), captured, cancellationToken);
        return new SnapshotPart(MembersBlob(id, partition), captured.Length, captured.Sum(c => (long)c.Facts.Count), bytes);
    }

    /// <summary>Captures the catalog as of T and names the derived versions current at T (title statistics recomputed at T when none was).</summary>
    public async Task<SnapshotCatalogPart> CaptureCatalogAsync(string id, DateTimeOffset asOf, CancellationToken cancellationToken = default)
    {
        // The plan's fact snapshot at T holds every current version at T (what the batch interface as of T reads): the catalog
        // and the ratings come from it when there is one, else from the archive.
        var plan = await ReadJsonAsync<SnapshotPlan>(PlanBlob(id), cancellationToken);
        var atT = plan?.FactSnapshot is { } factSnapshot && factSnapshots is not null ? await HistoriesAsync(factSnapshot, plan.AsOf, cancellationToken) : null;
        async Task<IEnumerable<Fact>> CurrentAsync(FactKind kind) => atT is not null
            ? atT.Facts.Where(f => f.Kind == kind)
            : (await archive.ReadAllAsync(new BatchQuery(null, null, kind, null, null, asOf, false, 1000, null), cancellationToken)).Select(f => f.Fact);

        var catalog = (await CurrentAsync(FactKind.Catalog)).Where(f => KnownAt.IsKnown(f, asOf)).OrderBy(f => f.Id, StringComparer.Ordinal).ToList();
        var catalogBytes = await WriteLinesAsync(CatalogBlob(id), catalog, cancellationToken);
        var versions = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var dataset in DerivedDatasets.All)
        {
            if (DerivedVersion.CurrentAt(await derived.ListAsync(dataset, cancellationToken), asOf) is { } v && v.AsOf <= asOf
                && PrecomputeCode.ConfigHashOf(v.CodeHash) == encoder.ConfigHash)
            {
                versions[dataset] = v.Version;
            }
        }

        SnapshotPart? titleStats = null;
        if (!versions.ContainsKey(DerivedDatasets.TitleStats))
        {
            // No title-stats version was current at T: what one computed at T would hold, from every rating known at T.
            var ratings = (await CurrentAsync(FactKind.Rating)).ToList();
            var stats = TitleStatsSnapshot.Build(ratings, asOf, encoder.Config);
            var entries = stats.Titles.OrderBy(t => t.Key, StringComparer.Ordinal)
                .Select(t => new TitleStatsEntry(t.Key, t.Value.RatingCount, t.Value.RatingSum, t.Value.LikeCount, t.Value.RecentCount, t.Value.LastRatedAt)).ToList();
            var statsBytes = await WriteLinesAsync(TitleStatsBlobName(id), entries, cancellationToken);
            titleStats = new SnapshotPart(TitleStatsBlobName(id), 0, entries.Count, statsBytes);
        }

        return new SnapshotCatalogPart(new SnapshotPart(CatalogBlob(id), 0, catalog.Count, catalogBytes), versions, titleStats);
    }

    /// <summary>
    /// Writes the manifest, last and once: every file named must exist; a manifest already there (a
    /// retried activity) is read back, never written twice.
    /// </summary>
    public async Task<ContextSnapshotManifest> CompleteAsync(ContextSnapshotRequest request, IReadOnlyList<SnapshotPart> parts, SnapshotCatalogPart catalog, DateTimeOffset completedAt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(catalog);
        if (await ReadJsonAsync<ContextSnapshotManifest>(ManifestBlob(request.Id), cancellationToken) is { } done)
        {
            return done;
        }

        var plan = await ReadJsonAsync<SnapshotPlan>(PlanBlob(request.Id), cancellationToken) ?? throw new InvalidOperationException($"snapshot {request.Id} has no plan");
        var files = parts.Append(catalog.Catalog).Concat(catalog.TitleStats is { } s ? [s] : []).OrderBy(p => p.Blob, StringComparer.Ordinal).ToList();
        foreach (var file in files)
        {
            if (!(await ContainerClient.GetBlobClient(file.Blob).ExistsAsync(cancellationToken)).Value)
            {
                throw new InvalidOperationException($"snapshot {request.Id}: {file.Blob} is missing, the snapshot is not complete");
            }
        }

        var perStratum = Enumerable.Range(0, request.Sample.Strata).Select(s => plan.Members.Count(m => m.Stratum == s)).ToList();
        var manifest = new ContextSnapshotManifest(request.Id, request.AsOf, request.Sample, request.Sample.Describe(), request.ConfigHash, plan.Population,
            plan.Members.Count, perStratum, plan.WithoutHistory, parts.Sum(p => p.Facts), (int)catalog.Catalog.Facts, catalog.DerivedVersions,
            catalog.TitleStats?.Blob, files, files.Sum(f => f.Bytes), completedAt, request.RequestedBy) { RequestedByObjectId = request.RequestedByObjectId };
        Forget(plan.FactSnapshot);
        if (!await TryWriteOnceAsync(ManifestBlob(request.Id), JsonSerializer.SerializeToUtf8Bytes(manifest, Json), cancellationToken))
        {
            return (await ReadJsonAsync<ContextSnapshotManifest>(ManifestBlob(request.Id), cancellationToken))!;
        }

        return manifest;
    }

    /// <summary>The histories at T of a fact snapshot: the ones kept by this instance, or loaded from the snapshot (once per instance and snapshot).</summary>
    private Task<HistoriesAtT> HistoriesAsync(string factSnapshot, DateTimeOffset asOf, CancellationToken cancellationToken)
    {
        while (true)
        {
            var kept = Volatile.Read(ref histories);
            if (kept is not null && kept.Snapshot == factSnapshot && kept.AsOf == asOf && !kept.Histories.IsFaulted && !kept.Histories.IsCanceled)
            {
                return kept.Histories;
            }

            var loading = new Loaded(factSnapshot, asOf, LoadAsync());
            if (Interlocked.CompareExchange(ref histories, loading, kept) == kept)
            {
                return loading.Histories;
            }
        }

        async Task<HistoriesAtT> LoadAsync() => HistoriesAtT.From(factSnapshot, asOf, await factSnapshots!.Store.LoadAsync(factSnapshot, cancellationToken));
    }

    private HistoriesAtT Remember(HistoriesAtT atT)
    {
        Volatile.Write(ref histories, new Loaded(atT.Snapshot, atT.AsOf, Task.FromResult(atT)));
        return atT;
    }

    private void Forget(string? factSnapshot)
    {
        if (factSnapshot is not null && Volatile.Read(ref histories) is { } kept && kept.Snapshot == factSnapshot)
        {
            Interlocked.CompareExchange(ref histories, null, kept);
        }
    }

    /// <summary>
    /// Every member's history at T from a fact snapshot at T (every version current at T, in the
    /// archive's order: partition, then row key, newest first): the member's facts with event time
    /// &lt;= T, which is what the live read as of T returns.
    /// </summary>
    private sealed class HistoriesAtT(string snapshot, DateTimeOffset asOf, Dictionary<string, List<Fact>> members, IReadOnlyList<Fact> facts)
    {
        public string Snapshot => snapshot;

        public DateTimeOffset AsOf => asOf;

        /// <summary>Every fact of the snapshot (each version current at T).</summary>
        public IReadOnlyList<Fact> Facts => facts;

        public static HistoriesAtT From(string snapshot, DateTimeOffset asOf, IReadOnlyList<Fact> facts)
        {
            var members = new Dictionary<string, List<Fact>>(StringComparer.Ordinal);
            foreach (var f in facts)
            {
                if (f.Member is { } member && f.Kind != FactKind.Retraction && KnownAt.IsKnown(f, asOf))
                {
                    if (!members.TryGetValue(member, out var list))
                    {
                        members[member] = list = [];
                    }

                    list.Add(f);
                }
            }

            return new HistoriesAtT(snapshot, asOf, members, facts);
        }

        /// <summary>How many facts the member had at T, at most <paramref name="cap"/>.</summary>
        public int Count(string member, int cap) => members.TryGetValue(member, out var list) ? Math.Min(list.Count, cap) : 0;

        /// <summary>The member's newest <paramref name="limit"/> facts at T, newest first.</summary>
        public IEnumerable<Fact> Take(string member, int limit) => members.TryGetValue(member, out var list) ? list.Take(limit) : [];
    }

    /// <summary>Every complete snapshot's manifest, newest T first.</summary>
    public async Task<IReadOnlyList<ContextSnapshotManifest>> ListAsync(CancellationToken cancellationToken = default)
    {
        if (!(await ContainerClient.ExistsAsync(cancellationToken)).Value)
        {
            return [];
        }

        var manifests = new List<ContextSnapshotManifest>();
        await foreach (var blob in ContainerClient.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
        {
            if (blob.Name.EndsWith("/" + ManifestName, StringComparison.Ordinal) && await ReadJsonAsync<ContextSnapshotManifest>(blob.Name, cancellationToken) is { } m)
            {
                manifests.Add(m);
            }
        }

        return manifests.OrderByDescending(m => m.AsOf).ThenBy(m => m.Id, StringComparer.Ordinal).ToList();
    }

    /// <summary>A complete snapshot's manifest, or null (unknown, or not complete).</summary>
    public Task<ContextSnapshotManifest?> GetManifestAsync(string id, CancellationToken cancellationToken = default) =>
        ContextSnapshotIds.IsValid(id) ? ReadJsonAsync<ContextSnapshotManifest>(ManifestBlob(id), cancellationToken) : Task.FromResult<ContextSnapshotManifest?>(null);

    /// <summary>Loads a complete snapshot: its members with their facts, the catalog and the title statistics at T (the derived version current then, or the recomputed file).</summary>
    public async Task<LoadedContextSnapshot> LoadAsync(string id, TitleStatsVersions titleStats, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(titleStats);
        var manifest = await GetManifestAsync(id, cancellationToken) ?? throw new SnapshotRefusedException(404, $"no complete context snapshot '{id}'");
        var members = new List<SnapshotMember>();
        foreach (var part in manifest.Parts.Where(p => p.Blob.Contains("/members-", StringComparison.Ordinal)))
        {
            members.AddRange(await ReadLinesAsync<SnapshotMember>(part.Blob, cancellationToken));
        }

        var catalogFacts = await ReadLinesAsync<Fact>(CatalogBlob(id), cancellationToken);
        TitleStatsSnapshot stats;
        if (manifest.DerivedVersions.TryGetValue(DerivedDatasets.TitleStats, out var version)
            && await derived.GetAsync(DerivedDatasets.TitleStats, version, cancellationToken) is { } v)
        {
            stats = await titleStats.LoadAsync(v, cancellationToken);
        }
        else
        {
            var entries = manifest.TitleStatsBlob is { } blob ? await ReadLinesAsync<TitleStatsEntry>(blob, cancellationToken) : [];
            stats = TitleStatsSnapshot.Restore(manifest.AsOf, encoder.ConfigHash,
                entries.Select(e => KeyValuePair.Create(e.Title, TitleStats.Restore(e.RatingCount, e.RatingSum, e.LikeCount, e.RecentCount, e.LastRatedAt))));
        }

        return new LoadedContextSnapshot(manifest, members.OrderBy(m => m.Member, StringComparer.Ordinal).ToList(), catalogFacts, Catalog.Build(catalogFacts, manifest.AsOf), stats);
    }

    /// <summary>The member partition a member's capture falls in.</summary>
    public static int PartitionOf(string member, int partitions) => (int)(Lumberjack.FeatureLogSampler.StableHash(member) % (uint)Math.Max(1, partitions));

    private async Task<List<string>> AllMembersAsync(CancellationToken cancellationToken)
    {
        var members = new List<string>();
        string? after = null;
        while (true)
        {
            var page = await tables.Partitions.ListAsync(after, 1000, cancellationToken);
            members.AddRange(page.Where(k => k.StartsWith(FactPartition.MemberPrefix, StringComparison.Ordinal)).Select(k => k[FactPartition.MemberPrefix.Length..]));
            if (page.Count < 1000)
            {
                return members;
            }

            after = page[^1];
        }
    }

    /// <summary>Uploads unless the blob exists (If-None-Match: *); false when it was already there.</summary>
    private async Task<bool> TryWriteOnceAsync(string name, byte[] content, CancellationToken cancellationToken)
    {
        try
        {
            await ContainerClient.GetBlobClient(name).UploadAsync(new BinaryData(content),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All }, HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } }, cancellationToken);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status is (int)HttpStatusCode.Conflict or (int)HttpStatusCode.PreconditionFailed)
        {
            return false;
        }
    }

    private async Task<T?> ReadJsonAsync<T>(string name, CancellationToken cancellationToken) where T : class
    {
        try
        {
            var content = await ContainerClient.GetBlobClient(name).DownloadContentAsync(cancellationToken);
            return content.Value.Content.ToObjectFromJson<T>(Json);
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    private async Task<long> WriteLinesAsync<T>(string name, IEnumerable<T> items, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        await using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var item in items)
            {
                JsonSerializer.Serialize(gzip, item, Json);
                gzip.WriteByte((byte)'\n');
            }
        }

        buffer.Position = 0;
        var length = buffer.Length;
        await ContainerClient.GetBlobClient(name).UploadAsync(buffer, overwrite: true, cancellationToken);
        return length;
    }

    private async Task<List<T>> ReadLinesAsync<T>(string name, CancellationToken cancellationToken)
    {
        var download = await ContainerClient.GetBlobClient(name).DownloadStreamingAsync(cancellationToken: cancellationToken);
        await using var gzip = new GZipStream(download.Value.Content, CompressionMode.Decompress);
        using var reader = new StreamReader(gzip);
        var items = new List<T>();
        while (await reader.ReadLineAsync(cancellationToken) is { Length: > 0 } line)
        {
            items.Add(JsonSerializer.Deserialize<T>(line, Json) ?? throw new InvalidDataException($"{name} has an empty line"));
        }

        return items;
    }
}

/// <summary>A complete context snapshot, loaded: what the encoder needs at T for its members.</summary>
public sealed record LoadedContextSnapshot(ContextSnapshotManifest Manifest, IReadOnlyList<SnapshotMember> Members, IReadOnlyList<Fact> CatalogFacts, Catalog Catalog, TitleStatsSnapshot TitleStats)
{
    /// <summary>The member profile at T, by the shared encoder (what serving would have computed for the member at T).</summary>
    public MemberProfile Profile(FeatureEncoder encoder, SnapshotMember member)
    {
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentNullException.ThrowIfNull(member);
        return encoder.Profile(new MemberHistory(member.Member, member.Facts.Where(f => f.Kind == FactKind.Rating).ToList()), Manifest.AsOf, Catalog, TitleStats);
    }
}
