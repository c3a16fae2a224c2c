import { Link } from '@tanstack/react-router';
import { EmptyState } from '../components/ui';

export function NotFoundPage() {
  return (
    <main className="p-8">
      <EmptyState title="Nothing here">
        <Link to="/" className="text-accent underline">
          Back to the projects
        </Link>
      </EmptyState>
    </main>
  );
}
